import { Controller, Get, type INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BackgroundJobs,
  BackgroundQueue,
  BackgroundService,
  BackgroundWorkHealthIndicator,
  BackgroundWorkModule,
  HostedService,
  memoryStore,
  type BackgroundWorkHealthOptions,
  type BackgroundWorkModuleOptions,
  type JobStore,
} from 'nestjs-background-work';
import { CapturingLogger } from '../support/capturing-logger.js';
import { gate, sleep } from '../support/create-app.js';

/**
 * BackgroundWorkHealthIndicator under a real terminus HealthCheckService, over real HTTP: 200 while healthy, 503
 * with the reason when down.
 */

let healthOptions: BackgroundWorkHealthOptions | undefined;

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly background: BackgroundWorkHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.background.isHealthy('background', healthOptions)]);
  }
}

let stopGate = gate();
@HostedService()
class SlowToStop {
  async start(): Promise<void> {}
  async stop(): Promise<void> {
    await stopGate.promise;
  }
}

@HostedService()
class Crashing extends BackgroundService {
  protected async execute(): Promise<void> {
    await sleep(5);
    throw new Error('lost the connection to the broker');
  }
}

/** A memory store whose reads can be made to hang or fail, as a remote store's do when its server is gone. */
function flakyStore(): { store: JobStore; mode: { now: 'ok' | 'hang' | 'fail' } } {
  const store = memoryStore();
  const mode = { now: 'ok' as 'ok' | 'hang' | 'fail' };
  const countsByQueue = store.countsByQueue.bind(store);
  store.countsByQueue = (states) => {
    if (mode.now === 'hang') return new Promise(() => {});
    if (mode.now === 'fail') return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
    return countsByQueue(states);
  };
  return { store, mode };
}

interface Running {
  app: INestApplication;
  get(): Promise<{ status: number; body: any }>;
}

let current: INestApplication | undefined;
afterEach(async () => {
  healthOptions = undefined;
  stopGate.open();
  await current?.close();
  current = undefined;
});

async function start(options: BackgroundWorkModuleOptions = {}, providers: any[] = []): Promise<Running> {
  const moduleRef = await Test.createTestingModule({
    imports: [BackgroundWorkModule.forRoot({ queue: { concurrency: 1 }, queues: { email: { concurrency: 1 } }, ...options }), TerminusModule.forRoot({ logger: false })],
    controllers: [HealthController],
    providers,
  }).compile();
  const app = moduleRef.createNestApplication({ logger: new CapturingLogger() });
  current = app;
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  return {
    app,
    get: async () => {
      const response = await fetch(`${base}/health`);
      return { status: response.status, body: await response.json() };
    },
  };
}

/** terminus puts a down indicator under `error`, an up one under `info`. */
const down = (body: any) => body.error.background;

describe('BackgroundWorkHealthIndicator with terminus', () => {
  it('answers 200 with the counts of every queue and the services while all is well', async () => {
    const { get } = await start({}, [SlowToStop]);
    const { status, body } = await get();
    expect(status).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.info.background).toEqual({
      status: 'up',
      phase: 'running',
      queues: { default: { backlog: 0, running: 0 }, email: { backlog: 0, running: 0 } },
      services: { running: 1 },
    });
  });

  it('answers 503 past maxBacklog, counting closures pending and due jobs pending in the store', async () => {
    const { app, get } = await start();
    const hold = gate();
    for (let i = 0; i < 3; i++) app.get(BackgroundQueue).enqueue(() => hold.promise);
    // Jobs that no handler of this process runs stay pending in the store: they wait as much as the closures do.
    await app.get(BackgroundJobs).enqueueMany([1, 2].map((n) => ({ job: 'elsewhere', payload: { n } })));
    await sleep(10);
    healthOptions = { maxBacklog: { default: 4 } };
    let { status, body } = await get();
    expect(status).toBe(200);
    expect(body.info.background.queues.default).toEqual({ backlog: 4, running: 1, oldestPendingMs: expect.any(Number) });

    healthOptions = { maxBacklog: 3 };
    ({ status, body } = await get());
    expect(status).toBe(503);
    expect(down(body)).toMatchObject({ status: 'down', message: 'queue "default" has 4 items waiting, more than maxBacklog 3', phase: 'running' });
    expect(down(body).queues.email).toEqual({ backlog: 0, running: 0 });
    hold.open();
  });

  it('answers 503 when the oldest pending job has waited past maxPendingAge', async () => {
    const { app, get } = await start();
    await app.get(BackgroundJobs).enqueue('elsewhere', {}, { queue: 'email', runAt: new Date(Date.now() - 60_000) });
    healthOptions = { maxPendingAge: 30_000 };
    let { status, body } = await get();
    expect(status).toBe(503);
    expect(down(body).message).toMatch(/^queue "email": its oldest pending job has waited \d+ ms, more than maxPendingAge 30000$/);
    expect(down(body).queues.email.oldestPendingMs).toBeGreaterThanOrEqual(60_000);

    healthOptions = { maxPendingAge: { email: 120_000 } };
    ({ status, body } = await get());
    expect(status).toBe(200);
    // Only the queues asked for.
    healthOptions = { queues: ['default'], maxPendingAge: 1 };
    ({ status, body } = await get());
    expect(status).toBe(200);
    expect(Object.keys(body.info.background.queues)).toEqual(['default']);
  });

  it('answers 503 naming a hosted service that failed', async () => {
    const { get } = await start({ onServiceError: 'log' }, [Crashing]);
    await sleep(50);
    const { status, body } = await get();
    expect(status).toBe(503);
    expect(down(body)).toMatchObject({
      message: 'hosted service Crashing failed: Error: lost the connection to the broker',
      services: { failed: 1 },
    });
  });

  it('answers 503 when the job store does not answer in time, or fails', async () => {
    const { store, mode } = flakyStore();
    const { get } = await start({ store });
    healthOptions = { timeout: 50 };
    mode.now = 'hang';
    let { status, body } = await get();
    expect(status).toBe(503);
    expect(down(body).message).toBe('job store memory did not answer within 50 ms');
    mode.now = 'fail';
    ({ status, body } = await get());
    expect(status).toBe(503);
    expect(down(body).message).toBe('job store memory: Error: connect ECONNREFUSED 127.0.0.1:6379');
    mode.now = 'ok';
    ({ status } = await get());
    expect(status).toBe(200);
  });

  it('answers 503 while the application stops, before the HTTP server closes', async () => {
    stopGate = gate();
    const { app, get } = await start({}, [SlowToStop]);
    const closing = app.close();
    await sleep(20);
    const { status, body } = await get();
    expect(status).toBe(503);
    expect(down(body)).toMatchObject({ message: 'the application is stopping', phase: 'stopping', services: { stopping: 1 } });
    stopGate.open();
    await closing;
    current = undefined;
  });
});

describe('BackgroundWorkHealthIndicator without TerminusModule imported', () => {
  it('still answers in terminus\'s shape, and rejects bad options at the call', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [BackgroundWorkModule.forRoot()] }).compile();
    const app = moduleRef.createNestApplication({ logger: new CapturingLogger() });
    current = app;
    await app.init();
    const indicator = app.get(BackgroundWorkHealthIndicator);
    expect(await indicator.isHealthy()).toEqual({ background: { status: 'up', phase: 'running', queues: { default: { backlog: 0, running: 0 } }, services: {} } });
    expect(Object.keys(await indicator.isHealthy('work'))).toEqual(['work']);
    expect(() => indicator.isHealthy('work', { maxBacklog: -1 })).toThrow(RangeError);
    expect(() => indicator.isHealthy('work', { queues: ['email'] })).toThrow('BackgroundWorkHealthIndicator.isHealthy options.queues[0]: no queue named "email"; the queues are default');
  });
});
