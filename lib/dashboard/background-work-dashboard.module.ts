import { Controller, Module, UseGuards, VERSION_NEUTRAL, type DynamicModule } from '@nestjs/common';
import { ActionTokenGuard } from './action-token.js';
import { DashboardAssets } from './dashboard-assets.js';
import { DashboardFeed } from './dashboard-feed.js';
import { DashboardController } from './dashboard.controller.js';
import { DASHBOARD_OPTIONS } from './dashboard.constants.js';
import { resolveDashboardOptions, type BackgroundWorkDashboardOptions } from './dashboard.options.js';
import { LocalRequestsOnlyGuard } from './local-requests.guard.js';

/**
 * A live page of the background work, served by the application itself on Express or Fastify: queues, jobs by
 * state, a job's payload, attempts and errors, hosted services, worker threads and the drain. Read-only and for
 * local requests only unless its options say otherwise. Needs `BackgroundWorkModule` in the application.
 *
 * ```ts
 * imports: [BackgroundWorkModule.forRoot(), BackgroundWorkDashboardModule.forRoot()] // at /background
 * ```
 */
@Module({})
export class BackgroundWorkDashboardModule {
  /** @throws TypeError or RangeError for a bad option, at the call */
  static forRoot(options?: BackgroundWorkDashboardOptions): DynamicModule {
    const resolved = resolveDashboardOptions(options);
    // A class per dashboard: its path and guards are its own, and two dashboards (or two apps) never share them.
    class BackgroundWorkDashboardController extends DashboardController {}
    Controller({ path: resolved.path, version: VERSION_NEUTRAL })(BackgroundWorkDashboardController);
    UseGuards(resolved.guard ?? LocalRequestsOnlyGuard, ActionTokenGuard)(BackgroundWorkDashboardController);
    // What @ApiExcludeController() sets: an app's OpenAPI document does not list the dashboard's routes.
    Reflect.defineMetadata('swagger/apiExcludeController', [true], BackgroundWorkDashboardController);
    return {
      module: BackgroundWorkDashboardModule,
      imports: resolved.imports,
      controllers: [BackgroundWorkDashboardController],
      providers: [{ provide: DASHBOARD_OPTIONS, useValue: resolved }, DashboardFeed, DashboardAssets],
    };
  }
}
