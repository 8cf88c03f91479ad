import { Logger, Module, type DynamicModule, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { BACKGROUND_WORK_OPTIONS, DEFAULT_QUEUE, LOG_CONTEXT } from './background-work.constants.js';
import { loadTelemetry } from './telemetry/load-telemetry.js';
import type { BackgroundWorkModuleAsyncOptions, BackgroundWorkModuleOptions } from './background-work.options.js';
import { BackgroundHost } from './hosting/background-host.js';
import { BackgroundWorkLifecycle } from './hosting/background-work.lifecycle.js';
import { HostedServiceExplorer } from './hosting/hosted-service.explorer.js';
import { BackgroundQueue } from './queue/background-queue.js';
import { getQueueToken } from './queue/inject-queue.decorator.js';
import { QueueRegistry } from './queue/queue-registry.js';
import { resolveModuleOptions, type ResolvedModuleOptions } from './resolve-module-options.js';
import { WorkerThreads } from './threads/worker-threads.js';
import { BackgroundJobs } from './jobs/background-jobs.js';
import { JobHandlerExplorer } from './jobs/job-handler.explorer.js';
import { JobRuntime } from './jobs/job-runtime.js';
import { BackgroundWorkHealthIndicator } from './health/background-work.health-indicator.js';
import { WorkMonitor } from './monitoring/work-monitor.js';
import { checkFunction, checkObject, checkString, describe } from './validation.js';

const ASYNC_KEYS = ['imports', 'inject', 'useFactory', 'queues'] as const;

/** The module: global, so that every module can inject `BackgroundQueue`, named queues and `BackgroundHost`. */
@Module({})
export class BackgroundWorkModule {
  static forRoot(options?: BackgroundWorkModuleOptions): DynamicModule {
    const resolved = resolveModuleOptions(options);
    return BackgroundWorkModule.build({ provide: BACKGROUND_WORK_OPTIONS, useValue: resolved }, Object.keys(resolved.queues), []);
  }

  /**
   * Options from a factory (a ConfigService, say). Named queues must be listed in `queues` up front, since their
   * injection tokens exist before the factory runs; the factory's `queues` option must configure exactly those.
   */
  static forRootAsync(options: BackgroundWorkModuleAsyncOptions): DynamicModule {
    const o = checkObject('BackgroundWorkModule.forRootAsync options', options, ASYNC_KEYS);
    checkFunction('BackgroundWorkModule.forRootAsync options.useFactory', o.useFactory);
    const names = options.queues ?? [];
    if (!Array.isArray(names)) {
      throw new TypeError(`BackgroundWorkModule.forRootAsync options.queues must be an array of queue names, got ${describe(names)}`);
    }
    names.forEach((name, i) => {
      checkString(`BackgroundWorkModule.forRootAsync options.queues[${i}]`, name);
      if (name === DEFAULT_QUEUE) {
        throw new RangeError(`BackgroundWorkModule.forRootAsync options.queues must not name "${DEFAULT_QUEUE}": that is the default queue`);
      }
      if (names.indexOf(name) !== i) throw new RangeError(`BackgroundWorkModule.forRootAsync options.queues names "${name}" twice`);
    });
    for (const key of ['imports', 'inject'] as const) {
      if (o[key] !== undefined && !Array.isArray(o[key])) {
        throw new TypeError(`BackgroundWorkModule.forRootAsync options.${key} must be an array, got ${describe(o[key])}`);
      }
    }
    const optionsProvider: Provider = {
      provide: BACKGROUND_WORK_OPTIONS,
      inject: options.inject ?? [],
      useFactory: async (...args: unknown[]) => {
        const resolved = resolveModuleOptions(await options.useFactory(...args));
        const configured = Object.keys(resolved.queues).toSorted().join(', ');
        const declared = names.toSorted().join(', ');
        if (configured !== declared) {
          throw new RangeError(
            `BackgroundWorkModule.forRootAsync: useFactory configured queues [${configured}] but forRootAsync declared queues [${declared}]; they must match`,
          );
        }
        return resolved;
      },
    };
    return BackgroundWorkModule.build(optionsProvider, names, options.imports ?? []);
  }

  private static build(optionsProvider: Provider, queueNames: string[], imports: NonNullable<DynamicModule['imports']>): DynamicModule {
    const queueProviders: Provider[] = [DEFAULT_QUEUE, ...queueNames].map((name) => ({
      provide: getQueueToken(name),
      inject: [QueueRegistry],
      useFactory: (registry: QueueRegistry) => registry.get(name),
    }));
    return {
      module: BackgroundWorkModule,
      global: true,
      imports: [DiscoveryModule, ...imports],
      providers: [
        optionsProvider,
        {
          provide: QueueRegistry,
          inject: [BACKGROUND_WORK_OPTIONS],
          // Async so that @opentelemetry/api is loaded (when installed) before any queue accepts work.
          useFactory: async (options: ResolvedModuleOptions) =>
            new QueueRegistry(options.queue, options.queues, await loadTelemetry(options.telemetry, new Logger(LOG_CONTEXT))),
        },
        ...queueProviders,
        {
          provide: WorkerThreads,
          inject: [BACKGROUND_WORK_OPTIONS],
          useFactory: (options: ResolvedModuleOptions) => new WorkerThreads(options.threads),
        },
        BackgroundHost,
        HostedServiceExplorer,
        JobHandlerExplorer,
        JobRuntime,
        BackgroundJobs,
        BackgroundWorkLifecycle,
        WorkMonitor,
        BackgroundWorkHealthIndicator,
      ],
      exports: [
        BackgroundHost,
        BackgroundQueue,
        WorkerThreads,
        BackgroundJobs,
        BackgroundWorkHealthIndicator,
        // Internal: the dashboard module reads through it.
        WorkMonitor,
        ...queueNames.map((name) => getQueueToken(name)),
      ],
    };
  }
}
