import type { INestApplication, Provider } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import inject, { type InjectOptions, type Response as InjectedResponse } from 'light-my-request';
import type { AddressInfo } from 'node:net';
import {
  BackgroundWorkDashboardModule,
  BackgroundWorkModule,
  type BackgroundWorkDashboardOptions,
  type BackgroundWorkModuleOptions,
} from 'nestjs-background-work';
import { CapturingLogger } from './capturing-logger.js';

export type Platform = 'express' | 'fastify';
export const PLATFORMS: Platform[] = ['express', 'fastify'];

export interface DashboardApp {
  app: INestApplication;
  logger: CapturingLogger;
  /** http://127.0.0.1:port */
  origin: string;
  /** The dashboard's URL. */
  url: string;
  /**
   * A request through the application's whole pipeline without a socket, so that it can come from any remote
   * address (Fastify's own inject; light-my-request, which it is built on, for Express). Only on an application
   * started with `listen: false`: light-my-request changes the prototype of Express's `app.request`, after which
   * real sockets of the same application fail.
   */
  inject(options: InjectOptions): Promise<InjectedResponse>;
}

export interface StartOptions {
  /** Listen on 127.0.0.1 (default), or only initialise, for `inject`. */
  listen?: boolean;
  configure?: (app: INestApplication) => void;
}

/** A real Nest application on Express or Fastify with the background module and a dashboard, listening on 127.0.0.1. */
export async function startDashboardApp(
  platform: Platform,
  dashboard: BackgroundWorkDashboardOptions = {},
  options: BackgroundWorkModuleOptions = {},
  providers: Provider[] = [],
  { listen = true, configure }: StartOptions = {},
): Promise<DashboardApp> {
  const moduleRef = await Test.createTestingModule({
    imports: [BackgroundWorkModule.forRoot(options), BackgroundWorkDashboardModule.forRoot(dashboard)],
    providers,
  }).compile();
  const logger = new CapturingLogger();
  const app = platform === 'fastify' ? moduleRef.createNestApplication(new FastifyAdapter(), { logger }) : moduleRef.createNestApplication({ logger });
  configure?.(app);
  let origin = 'http://127.0.0.1:0';
  if (listen) {
    await app.listen(0, '127.0.0.1');
    origin = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  } else {
    await app.init();
  }
  const instance = app.getHttpAdapter().getInstance();
  if (platform === 'fastify') await instance.ready();
  return {
    app,
    logger,
    origin,
    url: `${origin}${dashboard.path ?? '/background'}`,
    inject: (request) => {
      if (listen) throw new Error('inject() needs an application started with listen: false');
      return platform === 'fastify' ? (instance.inject(request) as Promise<InjectedResponse>) : inject(instance, request);
    },
  };
}
