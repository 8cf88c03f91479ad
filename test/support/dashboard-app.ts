import type { INestApplication, NestApplicationOptions, Provider } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { request as httpRequest } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
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
   * A real HTTP request on a new connection whose remote address the server is shown as `address` (the test
   * overrides the socket's `remoteAddress` before Node's HTTP server sees the connection): a request from another
   * machine, presented to the application's whole pipeline without leaving this one.
   */
  from(address: string, path: string, options?: { method?: string; headers?: Record<string, string> }): Promise<{ status: number; body: any }>;
}

export interface StartOptions {
  configure?: (app: INestApplication) => void;
  /** Options of the application (`return503OnClosing`, say). */
  appOptions?: NestApplicationOptions;
}

/** A real Nest application on Express or Fastify with the background module and a dashboard, listening on 127.0.0.1. */
export async function startDashboardApp(
  platform: Platform,
  dashboard: BackgroundWorkDashboardOptions = {},
  options: BackgroundWorkModuleOptions = {},
  providers: Provider[] = [],
  { configure, appOptions = {} }: StartOptions = {},
): Promise<DashboardApp> {
  const moduleRef = await Test.createTestingModule({
    imports: [BackgroundWorkModule.forRoot(options), BackgroundWorkDashboardModule.forRoot(dashboard)],
    providers,
  }).compile();
  const logger = new CapturingLogger();
  const app =
    platform === 'fastify' ? moduleRef.createNestApplication(new FastifyAdapter(), { ...appOptions, logger }) : moduleRef.createNestApplication({ ...appOptions, logger });
  configure?.(app);
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  const presented: string[] = [];
  app.getHttpServer().prependListener('connection', (socket: Socket) => {
    const address = presented.shift();
    if (address !== undefined) Object.defineProperty(socket, 'remoteAddress', { value: address, configurable: true });
  });
  return {
    app,
    logger,
    origin,
    url: `${origin}${dashboard.path ?? '/background'}`,
    from: (address, path, { method = 'GET', headers = {} } = {}) =>
      new Promise((resolve, reject) => {
        presented.push(address);
        const request = httpRequest({ host: '127.0.0.1', port, path, method, headers, agent: false }, (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => resolve({ status: response.statusCode!, body: text.startsWith('{') ? JSON.parse(text) : text }));
          // A stream (the SSE route) that was let in would never end: the status is all that is asked.
          if (response.headers['content-type']?.startsWith('text/event-stream')) {
            resolve({ status: response.statusCode!, body: '' });
            response.destroy();
          }
        });
        request.on('error', reject);
        request.end();
      }),
  };
}
