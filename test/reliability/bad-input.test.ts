import { readFileSync, writeFileSync } from 'node:fs';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BackgroundJobs,
  BackgroundQueue,
  BackgroundWorkDashboardModule,
  BackgroundWorkHealthIndicator,
  BackgroundWorkModule,
  HostedService,
  Job,
  PeriodicService,
  Recurring,
  memoryStore,
  sqliteStore,
  bullmqStore,
  InjectQueue,
  QueueClosedError,
  QueueFullError,
  SqliteStoreError,
  WorkerThreads,
  getQueueToken,
  type BackgroundWorkModuleAsyncOptions,
  type WorkContext,
} from 'nestjs-background-work';
import { CapturingLogger } from '../support/capturing-logger.js';
import { createApp, gate, sleep, startApp, type TestApp } from '../support/create-app.js';

/**
 * The bad-input catalogue: every wrong input the library rejects, with the error it raises and the message that
 * names what was wrong. docs/errors.md lists the same catalogue; the last test checks that the two agree.
 */

/** The calls every job store answers (a store made of these passes the module's check up to what a case leaves out). */
const STORE_CALLS = ['open', 'close', 'insert', 'claim', 'settle', 'renew', 'recover', 'get', 'list', 'cancel', 'retry', 'counts', 'countsByQueue', 'nextRunAt', 'oldestPending', 'sweep'];

/** Where the error surfaces. */
type Raised = 'call' | 'promise' | 'creation' | 'bootstrap';

const RAISED: Record<Raised, string> = {
  call: 'thrown by the call',
  promise: 'the returned promise rejects',
  creation: '`compile()` / `NestFactory.create()` rejects',
  bootstrap: '`app.init()` rejects',
};

/** What the calls of the catalogue work on: live and closed queues, a running item's context, worker threads. */
interface Env {
  /** The default queue of a running app. */
  queue: BackgroundQueue;
  /** A named queue (concurrency 1, capacity 1) with one item running and one pending: full. */
  full: BackgroundQueue;
  /** The context of an item that is still running. */
  ctx: WorkContext;
  /** The default queue of an app that has been closed. */
  closedQueue: BackgroundQueue;
  threads: WorkerThreads;
  closedThreads: WorkerThreads;
  /** WorkerThreads of an app configured with `threads: false`. */
  threadsOff: WorkerThreads;
  /** BackgroundJobs of the running app (memoryStore, the `echo` job). */
  jobs: BackgroundJobs;
  /** The health indicator of the live app (queues `default` and `full`). */
  health: BackgroundWorkHealthIndicator;
}

interface BadInput {
  /** The wrong input, as docs/errors.md shows it. */
  input: string;
  raised: Raised;
  error: new (...args: any[]) => Error;
  /** A part of the message (often all of it): it names the option or call and the value received. */
  message: string;
  call: (env: Env) => unknown;
}

const work = (): void => {};
const TASK = new URL('../threads/tasks/double.task.js', import.meta.url);
const root = (options: unknown) => BackgroundWorkModule.forRoot(options as never);
const queueOptions = (options: unknown) => root({ queue: options });
const retry = (policy: unknown) => root({ queue: { retry: policy } });
const threads = (options: unknown) => root({ threads: options });
const async = (options: unknown) => BackgroundWorkModule.forRootAsync(options as never);
/** Module creation with forRootAsync: where the factory's result is checked. */
const compileAsync = (options: BackgroundWorkModuleAsyncOptions) =>
  Test.createTestingModule({ imports: [BackgroundWorkModule.forRootAsync(options)] })
    .setLogger(new CapturingLogger())
    .compile();

@HostedService()
class NoStartStop {}

@Job('echo')
class EchoJob {
  run(): void {}
}

class NotAJob {}

/** Bootstrap of an app with `providers` (a @Job check) or `options` (a store that cannot open). */
const bootstrap = async (options: Parameters<typeof createApp>[0], providers: Parameters<typeof createApp>[1] = []): Promise<void> => {
  const { app } = await createApp(options, providers);
  try {
    await app.init();
  } finally {
    await app.close().catch(() => undefined);
  }
};
/** Nest creating a PeriodicService named Ticker with `options`. */
const createPeriodic = (options: unknown) => {
  @HostedService()
  class Ticker extends PeriodicService {
    constructor() {
      super(options as never);
    }
    protected tick(): void {}
  }
  return Test.createTestingModule({ imports: [BackgroundWorkModule.forRoot()], providers: [Ticker] }).setLogger(new CapturingLogger()).compile();
};
/** Bootstrap of an app whose @Job class Ticked has `@Recurring(cron, options)`. */
const recurring = (cron: unknown, options?: unknown) => {
  @Recurring(cron as string, options as never)
  @Job('ticked')
  class Ticked {
    run(): void {}
  }
  return bootstrap({ store: memoryStore() }, [Ticked]);
};
const J = 'BackgroundJobs.enqueue options';
const H = 'BackgroundWorkHealthIndicator.isHealthy';
const D = 'BackgroundWorkDashboardModule.forRoot options';

const M = 'BackgroundWorkModule options';
const Q = `${M}.queue`;
const R = `${Q}.retry`;
const T = `${M}.threads`;
const A = 'BackgroundWorkModule.forRootAsync options';
const E = 'default.enqueue options';
const EA = 'default.enqueueAsync options';
const RANGE_MS = 'an integer from 0 to 2147483647';
const TIMEOUT = 'an integer from 1 to 2147483647 or Infinity';
const RUN_TASK = "WorkerThreads.run(task) must be a URL, a file URL or an absolute path, such as new URL('./resize.task.js', import.meta.url)";

const catalogue: BadInput[] = [
  // ---- BackgroundWorkModule.forRoot() -------------------------------------------------------------------------
  { input: '`forRoot(null)`', raised: 'call', error: TypeError, message: `${M} must be an object, got null`, call: () => root(null) },
  { input: "`forRoot('fast')`", raised: 'call', error: TypeError, message: `${M} must be an object, got "fast"`, call: () => root('fast') },
  {
    input: '`forRoot()` with a misspelt key `shutdownTimout`',
    raised: 'call',
    error: TypeError,
    message: `${M} has an unknown option "shutdownTimout"; known options are shutdownTimeout, queue, queues`,
    call: () => root({ shutdownTimout: 5 }),
  },
  { input: '`shutdownTimeout: -1`', raised: 'call', error: RangeError, message: `${M}.shutdownTimeout must be ${RANGE_MS}, got -1`, call: () => root({ shutdownTimeout: -1 }) },
  { input: '`shutdownTimeout: NaN`', raised: 'call', error: TypeError, message: `${M}.shutdownTimeout must be a number, got NaN`, call: () => root({ shutdownTimeout: Number.NaN }) },
  { input: '`shutdownTimeout: Infinity`', raised: 'call', error: RangeError, message: `${M}.shutdownTimeout must be ${RANGE_MS}, got Infinity`, call: () => root({ shutdownTimeout: Infinity }) },
  {
    input: '`shutdownTimeout: 2 ** 31` (past the longest timer)',
    raised: 'call',
    error: RangeError,
    message: `${M}.shutdownTimeout must be ${RANGE_MS}, got 2147483648`,
    call: () => root({ shutdownTimeout: 2 ** 31 }),
  },
  { input: "`shutdownTimeout: '30s'`", raised: 'call', error: TypeError, message: `${M}.shutdownTimeout must be a number, got "30s"`, call: () => root({ shutdownTimeout: '30s' }) },
  { input: "`startConcurrently: 'yes'`", raised: 'call', error: TypeError, message: `${M}.startConcurrently must be a boolean, got "yes"`, call: () => root({ startConcurrently: 'yes' }) },
  { input: '`stopConcurrently: 1`', raised: 'call', error: TypeError, message: `${M}.stopConcurrently must be a boolean, got 1`, call: () => root({ stopConcurrently: 1 }) },
  { input: "`onServiceError: 'crash'`", raised: 'call', error: RangeError, message: `${M}.onServiceError must be 'stop-app' or 'log', got "crash"`, call: () => root({ onServiceError: 'crash' }) },
  { input: '`onServiceError: true`', raised: 'call', error: TypeError, message: `${M}.onServiceError must be 'stop-app' or 'log', got true`, call: () => root({ onServiceError: true }) },
  { input: '`startupTimeout: 0`', raised: 'call', error: RangeError, message: `${M}.startupTimeout must be an integer from 1 to 2147483647 or Infinity, got 0`, call: () => root({ startupTimeout: 0 }) },
  { input: "`startupTimeout: '5s'`", raised: 'call', error: TypeError, message: `${M}.startupTimeout must be a number, got "5s"`, call: () => root({ startupTimeout: '5s' }) },
  { input: "`telemetry: 'on'`", raised: 'call', error: TypeError, message: `${M}.telemetry must be a boolean, got "on"`, call: () => root({ telemetry: 'on' }) },
  { input: '`queues: []`', raised: 'call', error: TypeError, message: `${M}.queues must be an object, got an array`, call: () => root({ queues: [] }) },
  { input: '`queues: { default: {} }`', raised: 'call', error: RangeError, message: `${M}.queues must not name a queue "default"`, call: () => root({ queues: { default: {} } }) },
  { input: "`queues: { '': {} }`", raised: 'call', error: TypeError, message: `${M}.queues key must be a non-empty string, got ""`, call: () => root({ queues: { '': {} } }) },
  { input: "`queues: { email: 'fast' }`", raised: 'call', error: TypeError, message: `${M}.queues.email must be an object, got "fast"`, call: () => root({ queues: { email: 'fast' } }) },
  {
    input: '`queues: { email: { concurrency: -1 } }`',
    raised: 'call',
    error: RangeError,
    message: `${M}.queues.email.concurrency must be an integer >= 1 or Infinity, got -1`,
    call: () => root({ queues: { email: { concurrency: -1 } } }),
  },

  // ---- QueueOptions (the default queue's; named queues and enqueue options use the same rules) ---------------
  { input: '`queue: 4`', raised: 'call', error: TypeError, message: `${Q} must be an object, got 4`, call: () => queueOptions(4) },
  {
    input: '`queue: { concurency: 2 }` (misspelt)',
    raised: 'call',
    error: TypeError,
    message: `${Q} has an unknown option "concurency"; known options are concurrency, capacity, timeout, retry`,
    call: () => queueOptions({ concurency: 2 }),
  },
  { input: '`concurrency: 0`', raised: 'call', error: RangeError, message: `${Q}.concurrency must be an integer >= 1 or Infinity, got 0`, call: () => queueOptions({ concurrency: 0 }) },
  { input: '`concurrency: 1.5`', raised: 'call', error: RangeError, message: `${Q}.concurrency must be an integer >= 1 or Infinity, got 1.5`, call: () => queueOptions({ concurrency: 1.5 }) },
  { input: "`concurrency: '4'`", raised: 'call', error: TypeError, message: `${Q}.concurrency must be a number, got "4"`, call: () => queueOptions({ concurrency: '4' }) },
  { input: '`capacity: -3`', raised: 'call', error: RangeError, message: `${Q}.capacity must be an integer >= 1 or Infinity, got -3`, call: () => queueOptions({ capacity: -3 }) },
  { input: '`capacity: NaN`', raised: 'call', error: TypeError, message: `${Q}.capacity must be a number, got NaN`, call: () => queueOptions({ capacity: Number.NaN }) },
  { input: '`timeout: 0`', raised: 'call', error: RangeError, message: `${Q}.timeout must be ${TIMEOUT}, got 0`, call: () => queueOptions({ timeout: 0 }) },
  { input: '`timeout: -Infinity`', raised: 'call', error: RangeError, message: `${Q}.timeout must be ${TIMEOUT}, got -Infinity`, call: () => queueOptions({ timeout: -Infinity }) },
  { input: '`timeout: 2 ** 31`', raised: 'call', error: RangeError, message: `${Q}.timeout must be ${TIMEOUT}, got 2147483648`, call: () => queueOptions({ timeout: 2 ** 31 }) },
  { input: '`retry: 0`', raised: 'call', error: RangeError, message: `${R} must be an integer >= 1, got 0`, call: () => retry(0) },
  { input: '`retry: 2.5`', raised: 'call', error: RangeError, message: `${R} must be an integer >= 1, got 2.5`, call: () => retry(2.5) },
  { input: '`retry: Infinity`', raised: 'call', error: RangeError, message: `${R} must be an integer >= 1, got Infinity`, call: () => retry(Infinity) },
  { input: "`retry: '3'`", raised: 'call', error: TypeError, message: `${R} must be a number of attempts or a RetryPolicy object, got "3"`, call: () => retry('3') },
  { input: '`retry: null`', raised: 'call', error: TypeError, message: `${R} must be a number of attempts or a RetryPolicy object, got null`, call: () => retry(null) },
  {
    input: '`retry: { attempts: 3, delay: 5000, maxDelay: 10 }` (a cap below the first delay)',
    raised: 'call',
    error: RangeError,
    message: `${R}.maxDelay (10) must not be less than ${R}.delay (5000)`,
    call: () => retry({ attempts: 3, delay: 5000, maxDelay: 10 }),
  },
  { input: '`rateLimit: 10`', raised: 'call', error: TypeError, message: `${Q}.rateLimit must be an object, got 10`, call: () => queueOptions({ rateLimit: 10 }) },
  { input: '`rateLimit: { max: 0, per: 1000 }`', raised: 'call', error: RangeError, message: `${Q}.rateLimit.max must be an integer >= 1, got 0`, call: () => queueOptions({ rateLimit: { max: 0, per: 1000 } }) },
  { input: '`rateLimit: { max: 2.5, per: 1000 }`', raised: 'call', error: RangeError, message: `${Q}.rateLimit.max must be an integer >= 1, got 2.5`, call: () => queueOptions({ rateLimit: { max: 2.5, per: 1000 } }) },
  { input: '`rateLimit: { max: 10, per: 0 }`', raised: 'call', error: RangeError, message: `${Q}.rateLimit.per must be an integer from 1 to 2147483647, got 0`, call: () => queueOptions({ rateLimit: { max: 10, per: 0 } }) },
  { input: '`rateLimit: { max: 10 }` (no `per`)', raised: 'call', error: TypeError, message: `${Q}.rateLimit.per must be a number, got undefined`, call: () => queueOptions({ rateLimit: { max: 10 } }) },
  {
    input: "`rateLimit: { max: 10, per: '1s' }`",
    raised: 'call',
    error: TypeError,
    message: `${Q}.rateLimit.per must be a number, got "1s"`,
    call: () => queueOptions({ rateLimit: { max: 10, per: '1s' } }),
  },
  {
    input: '`rateLimit: { max: 10, duration: 1000 }` (BullMQ\'s name)',
    raised: 'call',
    error: TypeError,
    message: `${Q}.rateLimit has an unknown option "duration"; known options are max, per`,
    call: () => queueOptions({ rateLimit: { max: 10, duration: 1000 } }),
  },
  {
    input: '`queues: { email: { rateLimit: { max: -1, per: 1000 } } }`',
    raised: 'call',
    error: RangeError,
    message: `${M}.queues.email.rateLimit.max must be an integer >= 1, got -1`,
    call: () => root({ queues: { email: { rateLimit: { max: -1, per: 1000 } } } }),
  },

  // ---- RetryPolicy ---------------------------------------------------------------------------------------------
  { input: '`retry: { delay: 10 }` (no `attempts`)', raised: 'call', error: TypeError, message: `${R}.attempts must be a number, got undefined`, call: () => retry({ delay: 10 }) },
  { input: '`retry: { attempts: 0 }`', raised: 'call', error: RangeError, message: `${R}.attempts must be an integer >= 1, got 0`, call: () => retry({ attempts: 0 }) },
  {
    input: "`retry: { attempts: 3, backoff: 'linear' }`",
    raised: 'call',
    error: RangeError,
    message: `${R}.backoff must be 'fixed' or 'exponential', got "linear"`,
    call: () => retry({ attempts: 3, backoff: 'linear' }),
  },
  {
    input: '`retry: { attempts: 3, backoff: 2 }`',
    raised: 'call',
    error: TypeError,
    message: `${R}.backoff must be 'fixed' or 'exponential', got 2`,
    call: () => retry({ attempts: 3, backoff: 2 }),
  },
  { input: '`retry: { attempts: 3, delay: -1 }`', raised: 'call', error: RangeError, message: `${R}.delay must be ${RANGE_MS}, got -1`, call: () => retry({ attempts: 3, delay: -1 }) },
  {
    input: '`retry: { attempts: 3, maxDelay: Infinity }`',
    raised: 'call',
    error: RangeError,
    message: `${R}.maxDelay must be ${RANGE_MS}, got Infinity`,
    call: () => retry({ attempts: 3, maxDelay: Infinity }),
  },
  { input: "`retry: { attempts: 3, jitter: 'yes' }`", raised: 'call', error: TypeError, message: `${R}.jitter must be a boolean, got "yes"`, call: () => retry({ attempts: 3, jitter: 'yes' }) },
  {
    input: '`retry: { attempts: 3, retries: 2 }`',
    raised: 'call',
    error: TypeError,
    message: `${R} has an unknown option "retries"; known options are attempts, backoff, delay, maxDelay, jitter`,
    call: () => retry({ attempts: 3, retries: 2 }),
  },

  // ---- WorkerThreadsOptions ------------------------------------------------------------------------------------
  { input: '`threads: true`', raised: 'call', error: TypeError, message: `${T} must be an object, got true`, call: () => threads(true) },
  {
    input: '`threads: { max: 4 }`',
    raised: 'call',
    error: TypeError,
    message: `${T} has an unknown option "max"; known options are minThreads, maxThreads, idleTimeout, maxQueue, resourceLimits`,
    call: () => threads({ max: 4 }),
  },
  { input: '`threads: { maxThreads: 0 }`', raised: 'call', error: RangeError, message: `${T}.maxThreads must be an integer >= 1, got 0`, call: () => threads({ maxThreads: 0 }) },
  { input: '`threads: { maxThreads: Infinity }`', raised: 'call', error: RangeError, message: `${T}.maxThreads must be an integer >= 1, got Infinity`, call: () => threads({ maxThreads: Infinity }) },
  { input: '`threads: { minThreads: -1 }`', raised: 'call', error: RangeError, message: `${T}.minThreads must be an integer >= 0, got -1`, call: () => threads({ minThreads: -1 }) },
  {
    input: '`threads: { minThreads: 3, maxThreads: 2 }`',
    raised: 'call',
    error: RangeError,
    message: `${T}.minThreads (3) must not be greater than maxThreads (2)`,
    call: () => threads({ minThreads: 3, maxThreads: 2 }),
  },
  { input: '`threads: { idleTimeout: NaN }`', raised: 'call', error: TypeError, message: `${T}.idleTimeout must be a number, got NaN`, call: () => threads({ idleTimeout: Number.NaN }) },
  { input: '`threads: { idleTimeout: -1 }`', raised: 'call', error: RangeError, message: `${T}.idleTimeout must be ${RANGE_MS} or Infinity, got -1`, call: () => threads({ idleTimeout: -1 }) },
  { input: "`threads: { maxQueue: 'AUTO' }`", raised: 'call', error: RangeError, message: `${T}.maxQueue must be 'auto', got "AUTO"`, call: () => threads({ maxQueue: 'AUTO' }) },
  { input: '`threads: { maxQueue: -1 }`', raised: 'call', error: RangeError, message: `${T}.maxQueue must be an integer >= 0 or Infinity, got -1`, call: () => threads({ maxQueue: -1 }) },
  {
    input: '`threads: { resourceLimits: { heap: 64 } }`',
    raised: 'call',
    error: TypeError,
    message: `${T}.resourceLimits has an unknown option "heap"; known options are maxOldGenerationSizeMb`,
    call: () => threads({ resourceLimits: { heap: 64 } }),
  },
  {
    input: '`threads: { resourceLimits: { stackSizeMb: 0 } }`',
    raised: 'call',
    error: RangeError,
    message: `${T}.resourceLimits.stackSizeMb must be an integer >= 1, got 0`,
    call: () => threads({ resourceLimits: { stackSizeMb: 0 } }),
  },

  // ---- BackgroundWorkModule.forRootAsync() ---------------------------------------------------------------------
  { input: '`forRootAsync()` without options', raised: 'call', error: TypeError, message: `${A} must be an object, got undefined`, call: () => async(undefined) },
  { input: '`forRootAsync({})` (no `useFactory`)', raised: 'call', error: TypeError, message: `${A}.useFactory must be a function, got undefined`, call: () => async({}) },
  {
    input: '`forRootAsync({ useFactory: { shutdownTimeout: 5 } })` (an object, not a factory)',
    raised: 'call',
    error: TypeError,
    message: `${A}.useFactory must be a function, got an object`,
    call: () => async({ useFactory: { shutdownTimeout: 5 } }),
  },
  {
    input: '`forRootAsync()` with an unknown key `useClass`',
    raised: 'call',
    error: TypeError,
    message: `${A} has an unknown option "useClass"; known options are imports, inject, useFactory, queues`,
    call: () => async({ useClass: Object, useFactory: () => ({}) }),
  },
  {
    input: "`forRootAsync({ queues: 'email' })`",
    raised: 'call',
    error: TypeError,
    message: `${A}.queues must be an array of queue names, got "email"`,
    call: () => async({ queues: 'email', useFactory: () => ({}) }),
  },
  {
    input: "`forRootAsync({ queues: ['default'] })`",
    raised: 'call',
    error: RangeError,
    message: `${A}.queues must not name "default": that is the default queue`,
    call: () => async({ queues: ['default'], useFactory: () => ({}) }),
  },
  {
    input: "`forRootAsync({ queues: ['email', 'email'] })`",
    raised: 'call',
    error: RangeError,
    message: `${A}.queues names "email" twice`,
    call: () => async({ queues: ['email', 'email'], useFactory: () => ({}) }),
  },
  {
    input: '`forRootAsync({ imports: ConfigModule })` (not an array)',
    raised: 'call',
    error: TypeError,
    message: `${A}.imports must be an array, got a function`,
    call: () => async({ imports: class ConfigModule {}, useFactory: () => ({}) }),
  },
  {
    input: '`forRootAsync({ inject: Config })` (not an array)',
    raised: 'call',
    error: TypeError,
    message: `${A}.inject must be an array, got a function`,
    call: () => async({ inject: class Config {}, useFactory: () => ({}) }),
  },
  {
    input: '`forRoot(new Map())` (not a plain object)',
    raised: 'call',
    error: TypeError,
    message: `${M} must be a plain object, got an instance of Map`,
    call: () => root(new Map()),
  },
  {
    input: "`forRootAsync({ queues: [''] })`",
    raised: 'call',
    error: TypeError,
    message: `${A}.queues[0] must be a non-empty string, got ""`,
    call: () => async({ queues: [''], useFactory: () => ({}) }),
  },
  {
    input: '`forRootAsync()` whose factory returns `null`',
    raised: 'creation',
    error: TypeError,
    message: `${M} must be an object, got null`,
    call: () => compileAsync({ useFactory: () => null as never }),
  },
  {
    input: '`forRootAsync()` whose factory returns `{ shutdownTimeout: -5 }`',
    raised: 'creation',
    error: RangeError,
    message: `${M}.shutdownTimeout must be ${RANGE_MS}, got -5`,
    call: () => compileAsync({ useFactory: async () => ({ shutdownTimeout: -5 }) }),
  },
  {
    input: "`forRootAsync()` declaring `queues: ['email']` whose factory configures `sms`",
    raised: 'creation',
    error: RangeError,
    message: 'useFactory configured queues [sms] but forRootAsync declared queues [email]; they must match',
    call: () => compileAsync({ queues: ['email'], useFactory: () => ({ queues: { sms: {} } }) }),
  },

  // ---- BackgroundQueue.enqueue() and EnqueueOptions ------------------------------------------------------------
  { input: '`enqueue(undefined)`', raised: 'call', error: TypeError, message: 'default.enqueue(work) must be a function, got undefined', call: (env) => env.queue.enqueue(undefined as never) },
  {
    input: '`enqueue(promise)` (a promise, not a function)',
    raised: 'call',
    error: TypeError,
    message: 'default.enqueue(work) must be a function, got an instance of Promise',
    call: (env) => env.queue.enqueue(Promise.resolve(1) as never),
  },
  { input: "`enqueue('send-email')`", raised: 'call', error: TypeError, message: 'default.enqueue(work) must be a function, got "send-email"', call: (env) => env.queue.enqueue('send-email' as never) },
  { input: "`enqueue(fn, 'welcome')` (a name, not options)", raised: 'call', error: TypeError, message: `${E} must be an object, got "welcome"`, call: (env) => env.queue.enqueue(work, 'welcome' as never) },
  {
    input: '`enqueue(fn, signal)` (a signal, not options)',
    raised: 'call',
    error: TypeError,
    message: `${E} must be a plain object, got an instance of AbortSignal`,
    call: (env) => env.queue.enqueue(work, new AbortController().signal as never),
  },
  {
    input: "`enqueue(fn, { nmae: 'welcome' })` (misspelt)",
    raised: 'call',
    error: TypeError,
    message: `${E} has an unknown option "nmae"; known options are name, timeout, retry, signal`,
    call: (env) => env.queue.enqueue(work, { nmae: 'welcome' } as never),
  },
  { input: "`enqueue(fn, { name: '' })`", raised: 'call', error: TypeError, message: `${E}.name must be a non-empty string, got ""`, call: (env) => env.queue.enqueue(work, { name: '' }) },
  { input: '`enqueue(fn, { name: 42 })`', raised: 'call', error: TypeError, message: `${E}.name must be a non-empty string, got 42`, call: (env) => env.queue.enqueue(work, { name: 42 as never }) },
  { input: '`enqueue(fn, { timeout: 0 })`', raised: 'call', error: RangeError, message: `${E}.timeout must be ${TIMEOUT}, got 0`, call: (env) => env.queue.enqueue(work, { timeout: 0 }) },
  { input: '`enqueue(fn, { timeout: NaN })`', raised: 'call', error: TypeError, message: `${E}.timeout must be a number, got NaN`, call: (env) => env.queue.enqueue(work, { timeout: Number.NaN }) },
  { input: '`enqueue(fn, { retry: -1 })`', raised: 'call', error: RangeError, message: `${E}.retry must be an integer >= 1, got -1`, call: (env) => env.queue.enqueue(work, { retry: -1 }) },
  {
    input: "`enqueue(fn, { retry: { attempts: 2, delay: '1s' } })`",
    raised: 'call',
    error: TypeError,
    message: `${E}.retry.delay must be a number, got "1s"`,
    call: (env) => env.queue.enqueue(work, { retry: { attempts: 2, delay: '1s' as never } }),
  },
  {
    input: '`enqueue(fn, { signal: { aborted: false } })`',
    raised: 'call',
    error: TypeError,
    message: `${E}.signal must be an AbortSignal, got an object`,
    call: (env) => env.queue.enqueue(work, { signal: { aborted: false } as never }),
  },
  {
    input: '`enqueue(fn, { signal: controller })` (the controller, not its signal)',
    raised: 'call',
    error: TypeError,
    message: `${E}.signal must be an AbortSignal, got an instance of AbortController`,
    call: (env) => env.queue.enqueue(work, { signal: new AbortController() as never }),
  },
  { input: "`enqueue(fn, { group: '' })`", raised: 'call', error: TypeError, message: `${E}.group must be a non-empty string, got ""`, call: (env) => env.queue.enqueue(work, { group: '' }) },
  { input: '`enqueue(fn, { group: 42 })`', raised: 'call', error: TypeError, message: `${E}.group must be a non-empty string, got 42`, call: (env) => env.queue.enqueue(work, { group: 42 as never }) },
  { input: '`enqueue(fn, { delay: -1 })`', raised: 'call', error: RangeError, message: `${E}.delay must be ${RANGE_MS}, got -1`, call: (env) => env.queue.enqueue(work, { delay: -1 }) },
  { input: '`enqueue(fn, { delay: 1.5 })`', raised: 'call', error: RangeError, message: `${E}.delay must be ${RANGE_MS}, got 1.5`, call: (env) => env.queue.enqueue(work, { delay: 1.5 }) },
  { input: '`enqueue(fn, { delay: Infinity })`', raised: 'call', error: RangeError, message: `${E}.delay must be ${RANGE_MS}, got Infinity`, call: (env) => env.queue.enqueue(work, { delay: Infinity }) },
  { input: "`enqueue(fn, { delay: '5s' })`", raised: 'call', error: TypeError, message: `${E}.delay must be a number, got "5s"`, call: (env) => env.queue.enqueue(work, { delay: '5s' as never }) },
  {
    input: '`enqueue()` on a full queue',
    raised: 'call',
    error: QueueFullError,
    message: 'Queue "full" is full: 1 item pending (raise its capacity or use enqueueAsync to wait for room)',
    call: (env) => env.full.enqueue(work),
  },
  {
    input: '`enqueue()` after shutdown began',
    raised: 'call',
    error: QueueClosedError,
    message: 'Queue "default" is closed: the application is shutting down and accepts no new work',
    call: (env) => env.closedQueue.enqueue(work),
  },
  {
    input: '`enqueue(42)` after shutdown began (argument errors come first)',
    raised: 'call',
    error: TypeError,
    message: 'default.enqueue(work) must be a function, got 42',
    call: (env) => env.closedQueue.enqueue(42 as never),
  },

  // ---- BackgroundQueue.enqueueAsync(): argument errors are thrown, not returned as a rejection ----------------
  { input: '`enqueueAsync(null)`', raised: 'call', error: TypeError, message: 'default.enqueueAsync(work) must be a function, got null', call: (env) => env.queue.enqueueAsync(null as never) },
  {
    input: "`enqueueAsync(fn, { signal: 'stop' })`",
    raised: 'call',
    error: TypeError,
    message: `${EA}.signal must be an AbortSignal, got "stop"`,
    call: (env) => env.queue.enqueueAsync(work, { signal: 'stop' as never }),
  },
  { input: '`enqueueAsync(fn, { timeout: -5 })`', raised: 'call', error: RangeError, message: `${EA}.timeout must be ${TIMEOUT}, got -5`, call: (env) => env.queue.enqueueAsync(work, { timeout: -5 }) },
  { input: "`enqueueAsync(fn, { group: '' })`", raised: 'call', error: TypeError, message: `${EA}.group must be a non-empty string, got ""`, call: (env) => env.queue.enqueueAsync(work, { group: '' }) },
  { input: '`enqueueAsync(fn, { delay: -10 })`', raised: 'call', error: RangeError, message: `${EA}.delay must be ${RANGE_MS}, got -10`, call: (env) => env.queue.enqueueAsync(work, { delay: -10 }) },
  {
    input: '`enqueueAsync()` after shutdown began',
    raised: 'promise',
    error: QueueClosedError,
    message: 'Queue "default" is closed: the application is shutting down and accepts no new work',
    call: (env) => env.closedQueue.enqueueAsync(work),
  },

  // ---- BackgroundQueue.setConcurrency() ------------------------------------------------------------------------
  { input: '`setConcurrency(0)`', raised: 'call', error: RangeError, message: 'default.setConcurrency(concurrency) must be an integer >= 1 or Infinity, got 0', call: (env) => env.queue.setConcurrency(0) },
  { input: '`setConcurrency(2.5)`', raised: 'call', error: RangeError, message: 'default.setConcurrency(concurrency) must be an integer >= 1 or Infinity, got 2.5', call: (env) => env.queue.setConcurrency(2.5) },
  { input: "`setConcurrency('8')`", raised: 'call', error: TypeError, message: 'default.setConcurrency(concurrency) must be a number, got "8"', call: (env) => env.queue.setConcurrency('8' as never) },

  // ---- WorkContext.progress() ----------------------------------------------------------------------------------
  { input: '`ctx.progress(NaN)`', raised: 'call', error: TypeError, message: 'progress() takes a finite number, got NaN', call: (env) => env.ctx.progress(Number.NaN) },
  { input: '`ctx.progress(Infinity)`', raised: 'call', error: TypeError, message: 'progress() takes a finite number, got Infinity', call: (env) => env.ctx.progress(Infinity) },
  { input: "`ctx.progress('50%')`", raised: 'call', error: TypeError, message: 'progress() takes a finite number, got "50%"', call: (env) => env.ctx.progress('50%' as never) },

  // ---- getQueueToken(), @InjectQueue() -------------------------------------------------------------------------
  { input: "`getQueueToken('')`", raised: 'call', error: TypeError, message: 'getQueueToken(name) must be a non-empty string, got ""', call: () => getQueueToken('') },
  { input: '`getQueueToken(42)`', raised: 'call', error: TypeError, message: 'getQueueToken(name) must be a non-empty string, got 42', call: () => getQueueToken(42 as never) },
  { input: '`@InjectQueue(null)`', raised: 'call', error: TypeError, message: 'getQueueToken(name) must be a non-empty string, got null', call: () => InjectQueue(null as never) },

  // ---- @HostedService() ----------------------------------------------------------------------------------------
  { input: '`@HostedService(null)`', raised: 'call', error: TypeError, message: '@HostedService() options must be an object, got null', call: () => HostedService(null as never) },
  {
    input: '`@HostedService({ ordre: 1 })` (misspelt)',
    raised: 'call',
    error: TypeError,
    message: '@HostedService() options has an unknown option "ordre"; known options are order',
    call: () => HostedService({ ordre: 1 } as never),
  },
  { input: '`@HostedService({ order: NaN })`', raised: 'call', error: TypeError, message: '@HostedService() options.order must be a number, got NaN', call: () => HostedService({ order: Number.NaN }) },
  {
    input: '`@HostedService({ order: 1.5 })`',
    raised: 'call',
    error: RangeError,
    message: '@HostedService() options.order must be an integer >= -9007199254740991, got 1.5',
    call: () => HostedService({ order: 1.5 }),
  },
  { input: "`@HostedService({ order: '1' })`", raised: 'call', error: TypeError, message: '@HostedService() options.order must be a number, got "1"', call: () => HostedService({ order: '1' as never }) },
  {
    input: 'a `@HostedService()` class without `start()` and `stop()`',
    raised: 'bootstrap',
    error: TypeError,
    message: 'Hosted service NoStartStop must have start(signal) and stop(signal) methods',
    call: async () => {
      const { app } = await createApp({}, [NoStartStop]);
      try {
        await app.init();
      } finally {
        await app.close();
      }
    },
  },

  // ---- PeriodicService (its options are checked when Nest creates the service) ----------------------------------
  { input: '`super({ every: 0 })`', raised: 'creation', error: RangeError, message: 'PeriodicService Ticker options.every must be an integer from 1 to 2147483647, got 0', call: () => createPeriodic({ every: 0 }) },
  { input: "`super({ every: '1s' })`", raised: 'creation', error: TypeError, message: 'PeriodicService Ticker options.every must be a number, got "1s"', call: () => createPeriodic({ every: '1s' }) },
  { input: '`super()` (no options)', raised: 'creation', error: TypeError, message: 'PeriodicService Ticker options must be an object, got undefined', call: () => createPeriodic(undefined) },
  {
    input: '`super({ evry: 1000 })` (misspelt)',
    raised: 'creation',
    error: TypeError,
    message: 'PeriodicService Ticker options has an unknown option "evry"; known options are every, immediately, maxConsecutiveFailures',
    call: () => createPeriodic({ evry: 1000 }),
  },
  {
    input: "`super({ every: 1000, immediately: 'yes' })`",
    raised: 'creation',
    error: TypeError,
    message: 'PeriodicService Ticker options.immediately must be a boolean, got "yes"',
    call: () => createPeriodic({ every: 1000, immediately: 'yes' }),
  },
  {
    input: '`super({ every: 1000, maxConsecutiveFailures: 0 })`',
    raised: 'creation',
    error: RangeError,
    message: 'PeriodicService Ticker options.maxConsecutiveFailures must be an integer >= 1 or Infinity, got 0',
    call: () => createPeriodic({ every: 1000, maxConsecutiveFailures: 0 }),
  },

  // ---- WorkerThreads.run() and RunTaskOptions ------------------------------------------------------------------
  {
    input: "`run('tasks/resize.task.js', input)` (a relative path)",
    raised: 'call',
    error: TypeError,
    message: `${RUN_TASK}; got "tasks/resize.task.js"`,
    call: (env) => env.threads.run('tasks/resize.task.js', {}),
  },
  { input: '`run(42, input)`', raised: 'call', error: TypeError, message: `${RUN_TASK}; got 42`, call: (env) => env.threads.run(42 as never, {}) },
  {
    input: "`run(new URL('https://example.com/resize.task.js'), input)`",
    raised: 'call',
    error: TypeError,
    message: 'WorkerThreads.run(task) must be a file: URL, got https://example.com/resize.task.js',
    call: (env) => env.threads.run(new URL('https://example.com/resize.task.js'), {}),
  },
  {
    input: "`run('/nonexistent/resize.task.js', input)` (no such file)",
    raised: 'call',
    error: TypeError,
    message: 'WorkerThreads.run(task): no task file at /nonexistent/resize.task.js',
    call: (env) => env.threads.run('/nonexistent/resize.task.js', {}),
  },
  {
    input: '`run(task, input, { timeout: 5 })`',
    raised: 'call',
    error: TypeError,
    message: 'WorkerThreads.run options has an unknown option "timeout"; known options are name, signal, transfer, progress',
    call: (env) => env.threads.run(TASK, { n: 1 }, { timeout: 5 } as never),
  },
  {
    input: "`run(task, input, { name: '' })`",
    raised: 'call',
    error: TypeError,
    message: 'WorkerThreads.run options.name must be a non-empty string, got ""',
    call: (env) => env.threads.run(TASK, { n: 1 }, { name: '' }),
  },
  {
    input: '`run(task, input, { signal: {} })`',
    raised: 'call',
    error: TypeError,
    message: 'WorkerThreads.run options.signal must be an AbortSignal, got an object',
    call: (env) => env.threads.run(TASK, { n: 1 }, { signal: {} as never }),
  },
  {
    input: '`run(task, input, { transfer: buffer })` (not an array)',
    raised: 'call',
    error: TypeError,
    message: 'WorkerThreads.run options.transfer must be an array, got an instance of ArrayBuffer',
    call: (env) => env.threads.run(TASK, { n: 1 }, { transfer: new ArrayBuffer(8) as never }),
  },
  {
    input: '`run()` with `threads: false`',
    raised: 'call',
    error: Error,
    message: 'Worker threads are off: BackgroundWorkModule was configured with threads: false',
    call: (env) => env.threadsOff.run(TASK, { n: 1 }),
  },
  {
    input: '`run()` after shutdown began',
    raised: 'promise',
    error: Error,
    message: 'Worker threads are closed: the application is shutting down',
    call: (env) => env.closedThreads.run(TASK, { n: 1 }),
  },

  // ---- Durable jobs: BackgroundJobs, JobOptions, payloads, @Job, stores -----------------------------------------
  { input: '`jobs.enqueue(NotAJob, {})` (no `@Job`)', raised: 'promise', error: TypeError, message: 'BackgroundJobs.enqueue(job): NotAJob is not a @Job class', call: (env) => env.jobs.enqueue(NotAJob as never, {}) },
  { input: '`jobs.enqueue(42, {})`', raised: 'promise', error: TypeError, message: 'BackgroundJobs.enqueue(job) must be a @Job class or a job name, got 42', call: (env) => env.jobs.enqueue(42 as never, {}) },
  { input: 'a payload with a Date', raised: 'promise', error: TypeError, message: 'payload.user.createdAt: a Date; pass toISOString()', call: (env) => env.jobs.enqueue('echo', { user: { createdAt: new Date() } }) },
  { input: 'a payload with a function', raised: 'promise', error: TypeError, message: 'payload.fn: a function', call: (env) => env.jobs.enqueue('echo', { fn: work }) },
  { input: 'a payload with `undefined`', raised: 'promise', error: TypeError, message: 'payload.to: undefined; JSON drops it', call: (env) => env.jobs.enqueue('echo', { to: undefined }) },
  { input: 'a payload with a symbol', raised: 'promise', error: TypeError, message: 'payload.s: a symbol', call: (env) => env.jobs.enqueue('echo', { s: Symbol('s') }) },
  { input: 'a payload with a BigInt', raised: 'promise', error: TypeError, message: 'payload.n: a BigInt', call: (env) => env.jobs.enqueue('echo', { n: 1n }) },
  { input: 'a payload with NaN', raised: 'promise', error: TypeError, message: 'payload.n: NaN; JSON turns it into null', call: (env) => env.jobs.enqueue('echo', { n: Number.NaN }) },
  { input: 'a payload with Infinity', raised: 'promise', error: TypeError, message: 'payload.n: Infinity', call: (env) => env.jobs.enqueue('echo', { n: Infinity }) },
  { input: 'a payload with a Map', raised: 'promise', error: TypeError, message: 'payload.m: a Map; pass Object.fromEntries(map)', call: (env) => env.jobs.enqueue('echo', { m: new Map() }) },
  { input: 'a payload with a Set', raised: 'promise', error: TypeError, message: 'payload.s: a Set; pass [...set]', call: (env) => env.jobs.enqueue('echo', { s: new Set() }) },
  { input: 'a payload with a class instance', raised: 'promise', error: TypeError, message: 'payload.x: an instance of NotAJob', call: (env) => env.jobs.enqueue('echo', { x: new NotAJob() }) },
  {
    input: 'a payload with a cycle',
    raised: 'promise',
    error: TypeError,
    message: 'payload.a.back: a cycle',
    call: (env) => {
      const a: Record<string, unknown> = {};
      a.back = a;
      return env.jobs.enqueue('echo', { a });
    },
  },
  { input: 'a payload over 1 MB of JSON', raised: 'promise', error: RangeError, message: 'over the limit of 1048576', call: (env) => env.jobs.enqueue('echo', 'x'.repeat(1_048_577)) },
  { input: "`JobOptions` `{ colour: 'red' }`", raised: 'promise', error: TypeError, message: `${J} has an unknown option "colour"`, call: (env) => env.jobs.enqueue('echo', {}, { colour: 'red' } as never) },
  { input: "`runAt: new Date('x')`", raised: 'promise', error: TypeError, message: `${J}.runAt must be a valid Date`, call: (env) => env.jobs.enqueue('echo', {}, { runAt: new Date('x') }) },
  { input: "`runAt: '2030-01-01'`", raised: 'promise', error: TypeError, message: `${J}.runAt must be a valid Date, got "2030-01-01"`, call: (env) => env.jobs.enqueue('echo', {}, { runAt: '2030-01-01' as never }) },
  { input: '`delay: -5`', raised: 'promise', error: RangeError, message: `${J}.delay must be ${RANGE_MS}, got -5`, call: (env) => env.jobs.enqueue('echo', {}, { delay: -5 }) },
  { input: '`delay` and `runAt` together', raised: 'promise', error: TypeError, message: `${J}: give delay or runAt, not both`, call: (env) => env.jobs.enqueue('echo', {}, { delay: 1, runAt: new Date() }) },
  { input: '`priority: 0.5`', raised: 'promise', error: RangeError, message: `${J}.priority must be an integer from -1000000 to 1000000, got 0.5`, call: (env) => env.jobs.enqueue('echo', {}, { priority: 0.5 }) },
  { input: "`key: ''`", raised: 'promise', error: TypeError, message: `${J}.key must be a non-empty string`, call: (env) => env.jobs.enqueue('echo', {}, { key: '' }) },
  { input: '`key` over 512 characters', raised: 'promise', error: RangeError, message: `${J}.key must be at most 512 characters`, call: (env) => env.jobs.enqueue('echo', {}, { key: 'k'.repeat(513) }) },
  { input: "`group: ''`", raised: 'promise', error: TypeError, message: `${J}.group must be a non-empty string, got ""`, call: (env) => env.jobs.enqueue('echo', {}, { group: '' }) },
  { input: '`group: 42`', raised: 'promise', error: TypeError, message: `${J}.group must be a non-empty string, got 42`, call: (env) => env.jobs.enqueue('echo', {}, { group: 42 as never }) },
  { input: '`group` over 200 characters', raised: 'promise', error: RangeError, message: `${J}.group must be at most 200 characters, got 201`, call: (env) => env.jobs.enqueue('echo', {}, { group: 'g'.repeat(201) }) },
  {
    input: '`group` on a store without groups',
    raised: 'promise',
    error: TypeError,
    message: `${J}.group: the job store memory (no groups) does not run jobs in groups (memoryStore() and sqliteStore() do)`,
    call: async () => {
      const store = Object.assign(memoryStore(), { description: 'memory (no groups)', capabilities: { groups: false } });
      const app = await startApp({ store }, [EchoJob]);
      apps.push(app);
      return app.app.get(BackgroundJobs).enqueue('echo', {}, { group: 'tenant-1' });
    },
  },
  { input: "`queue: 'nope'` (not configured)", raised: 'promise', error: RangeError, message: `${J}.queue: No queue named "nope"`, call: (env) => env.jobs.enqueue('echo', {}, { queue: 'nope' }) },
  { input: '`jobs.enqueueMany({})`', raised: 'promise', error: TypeError, message: 'BackgroundJobs.enqueueMany(jobs) must be an array', call: (env) => env.jobs.enqueueMany({} as never) },
  { input: "`jobs.list({ state: 'done' })`", raised: 'promise', error: RangeError, message: 'BackgroundJobs.list filter.state must be', call: (env) => env.jobs.list({ state: 'done' as never }) },
  { input: '`jobs.list({ limit: 5000 })`', raised: 'promise', error: RangeError, message: 'BackgroundJobs.list filter.limit must be an integer from 1 to 1000, got 5000', call: (env) => env.jobs.list({ limit: 5000 }) },
  { input: "`jobs.list({ order: 'newest' })`", raised: 'promise', error: RangeError, message: "BackgroundJobs.list filter.order must be 'asc' or 'desc', got \"newest\"", call: (env) => env.jobs.list({ order: 'newest' as never }) },
  { input: '`jobs.list({ key: 7 })`', raised: 'promise', error: TypeError, message: 'BackgroundJobs.list filter.key must be a non-empty string, got 7', call: (env) => env.jobs.list({ key: 7 as never }) },
  { input: '`jobs.get(1)`', raised: 'promise', error: TypeError, message: 'BackgroundJobs.get(id) must be a non-empty string, got 1', call: (env) => env.jobs.get(1 as never) },
  { input: '`store: {}`', raised: 'call', error: TypeError, message: `${M}.store must be a job store such as memoryStore() or sqliteStore({ path })`, call: () => root({ store: {} }) },
  {
    input: 'a `store` without `capabilities`',
    raised: 'call',
    error: TypeError,
    message: `${M}.store.capabilities must be an object such as { groups: false } (what the store does beyond the calls every store answers), got undefined`,
    call: () => root({ store: Object.fromEntries(STORE_CALLS.map((m) => [m, () => undefined])) }),
  },
  { input: '`sqliteStore({})`', raised: 'call', error: TypeError, message: 'sqliteStore options.path must be a non-empty string, got undefined', call: () => sqliteStore({} as never) },
  { input: "`sqliteStore({ path, synchronous: 'off' })`", raised: 'call', error: RangeError, message: "sqliteStore options.synchronous must be 'normal' or 'full', got \"off\"", call: () => sqliteStore({ path: 'x.db', synchronous: 'off' as never }) },
  { input: "`sqliteStore({ path, driver: 'sqlite3' })`", raised: 'call', error: RangeError, message: 'sqliteStore options.driver must be', call: () => sqliteStore({ path: 'x.db', driver: 'sqlite3' as never }) },
  { input: '`sqliteStore({ path, leaseMs: 10 })`', raised: 'call', error: RangeError, message: 'sqliteStore options.leaseMs must be an integer', call: () => sqliteStore({ path: 'x.db', leaseMs: 10 }) },
  { input: '`bullmqStore({})`', raised: 'call', error: TypeError, message: 'bullmqStore options.connection must be ioredis options ({ host, port }), a redis:// URL or an ioredis instance, got undefined', call: () => bullmqStore({} as never) },
  { input: "`bullmqStore({ connection: 'localhost:6379' })`", raised: 'call', error: TypeError, message: 'bullmqStore options.connection must be a redis:// or rediss:// URL, got "localhost:6379"', call: () => bullmqStore({ connection: 'localhost:6379' }) },
  { input: "`bullmqStore({ connection, prefix: '' })`", raised: 'call', error: TypeError, message: 'bullmqStore options.prefix must be a non-empty string', call: () => bullmqStore({ connection: {}, prefix: '' }) },
  { input: "`bullmqStore({ connection, prefix: 'my app' })`", raised: 'call', error: TypeError, message: 'bullmqStore options.prefix must not contain spaces or braces, got "my app"', call: () => bullmqStore({ connection: {}, prefix: 'my app' }) },
  { input: "`bullmqStore({ connection, backend: 'mysql' })`", raised: 'call', error: RangeError, message: "bullmqStore options.backend must be 'redis' or 'postgres', got \"mysql\"", call: () => bullmqStore({ connection: {}, backend: 'mysql' as never }) },
  { input: "`bullmqStore({ backend: 'postgres', connection: 'redis://x' })`", raised: 'call', error: TypeError, message: "bullmqStore options.connection must be pg pool options ({ connectionString, schema? }) or a postgres:// URL with backend 'postgres', got \"redis://x\"", call: () => bullmqStore({ backend: 'postgres', connection: 'redis://x' }) },
  { input: '`bullmqStore({ connection, lockDuration: 100 })`', raised: 'call', error: RangeError, message: 'bullmqStore options.lockDuration must be an integer from 1000', call: () => bullmqStore({ connection: {}, lockDuration: 100 }) },
  { input: '`bullmqStore({ connection, stalledInterval: 0 })`', raised: 'call', error: RangeError, message: 'bullmqStore options.stalledInterval must be an integer from 500', call: () => bullmqStore({ connection: {}, stalledInterval: 0 }) },
  {
    input: 'a Redis that does not answer',
    raised: 'bootstrap',
    error: Error,
    message: 'bullmqStore: Redis at 127.0.0.1:6390 did not answer within 300 ms',
    call: () => bootstrap({ store: bullmqStore({ connection: { host: '127.0.0.1', port: 6390 }, connectTimeout: 300 }) }),
  },
  { input: '`memoryStore({ maxStalls: -1 })`', raised: 'call', error: RangeError, message: 'memoryStore options.maxStalls must be an integer from 0 to 1000, got -1', call: () => memoryStore({ maxStalls: -1 }) },
  {
    input: 'a store path in a missing folder',
    raised: 'bootstrap',
    error: SqliteStoreError,
    message: 'sqlite store cannot open /no/such/folder/jobs.db: its folder /no/such/folder does not exist (create it first)',
    call: () => bootstrap({ store: sqliteStore({ path: '/no/such/folder/jobs.db' }) }),
  },
  {
    input: 'two `@Job` classes with one name',
    raised: 'bootstrap',
    error: Error,
    message: 'Two @Job classes handle the job "echo": EchoJob and EchoAgain',
    call: () => {
      @Job('echo')
      class EchoAgain {
        run(): void {}
      }
      return bootstrap({ store: memoryStore() }, [EchoJob, EchoAgain]);
    },
  },
  {
    input: 'a `@Job` class without `run()`',
    raised: 'bootstrap',
    error: TypeError,
    message: '@Job on NoRun must have a run(payload, context) method',
    call: () => {
      @Job('no-run')
      class NoRun {}
      return bootstrap({ store: memoryStore() }, [NoRun]);
    },
  },
  {
    input: "`@Job('x', { queue: 'nope' })`",
    raised: 'bootstrap',
    error: RangeError,
    message: '@Job("x") on BadQueue options.queue: No queue named "nope"',
    call: () => {
      @Job('x', { queue: 'nope' })
      class BadQueue {
        run(): void {}
      }
      return bootstrap({ store: memoryStore() }, [BadQueue]);
    },
  },

  // ---- Health: BackgroundWorkHealthIndicator.isHealthy -------------------------------------------------------
  { input: "`isHealthy('')`", raised: 'call', error: TypeError, message: `${H}(key) must be a non-empty string, got ""`, call: (env) => env.health.isHealthy('') },
  { input: '`isHealthy(key, { treshold: 5 })` (misspelt)', raised: 'call', error: TypeError, message: `${H} options has an unknown option "treshold"; known options are queues, maxBacklog, maxPendingAge, timeout`, call: (env) => env.health.isHealthy('bg', { treshold: 5 } as never) },
  { input: '`isHealthy(key, { maxBacklog: -1 })`', raised: 'call', error: RangeError, message: `${H} options.maxBacklog must be an integer >= 0 or Infinity, got -1`, call: (env) => env.health.isHealthy('bg', { maxBacklog: -1 }) },
  { input: "`isHealthy(key, { maxBacklog: '100' })`", raised: 'call', error: TypeError, message: `${H} options.maxBacklog must be a number, or numbers by queue name, got "100"`, call: (env) => env.health.isHealthy('bg', { maxBacklog: '100' as never }) },
  { input: '`isHealthy(key, { maxPendingAge: { email: 5_000 } })` (no such queue)', raised: 'call', error: RangeError, message: `${H} options.maxPendingAge key: no queue named "email"; the queues are default, full`, call: (env) => env.health.isHealthy('bg', { maxPendingAge: { email: 5_000 } }) },
  { input: "`isHealthy(key, { queues: 'default' })`", raised: 'call', error: TypeError, message: `${H} options.queues must be an array of queue names, got "default"`, call: (env) => env.health.isHealthy('bg', { queues: 'default' as never }) },
  { input: '`isHealthy(key, { timeout: 0 })`', raised: 'call', error: RangeError, message: `${H} options.timeout must be an integer from 1 to 60000, got 0`, call: (env) => env.health.isHealthy('bg', { timeout: 0 }) },

  // ---- Dashboard: BackgroundWorkDashboardModule.forRoot -----------------------------------------------------
  { input: "`BackgroundWorkDashboardModule.forRoot({ path: 'background' })` (no leading slash)", raised: 'call', error: RangeError, message: `${D}.path must be a path such as '/background' or '/admin/jobs' (segments of letters, digits and - . _ ~, no trailing slash), got "background"`, call: () => BackgroundWorkDashboardModule.forRoot({ path: 'background' }) },
  { input: "`BackgroundWorkDashboardModule.forRoot({ path: '/' })`", raised: 'call', error: RangeError, message: `${D}.path must be a path such as '/background'`, call: () => BackgroundWorkDashboardModule.forRoot({ path: '/' }) },
  { input: "`BackgroundWorkDashboardModule.forRoot({ path: '/jobs/:id' })` (a route parameter)", raised: 'call', error: RangeError, message: `${D}.path must be a path such as '/background'`, call: () => BackgroundWorkDashboardModule.forRoot({ path: '/jobs/:id' }) },
  { input: "`BackgroundWorkDashboardModule.forRoot({ path: '/admin/../jobs' })`", raised: 'call', error: RangeError, message: `${D}.path must be a path such as '/background'`, call: () => BackgroundWorkDashboardModule.forRoot({ path: '/admin/../jobs' }) },
  { input: "`BackgroundWorkDashboardModule.forRoot({ readOnly: 'yes' })`", raised: 'call', error: TypeError, message: `${D}.readOnly must be a boolean, got "yes"`, call: () => BackgroundWorkDashboardModule.forRoot({ readOnly: 'yes' as never }) },
  { input: '`BackgroundWorkDashboardModule.forRoot({ guard: true })`', raised: 'call', error: TypeError, message: `${D}.guard must be a guard class or an object with a canActivate() method, got true`, call: () => BackgroundWorkDashboardModule.forRoot({ guard: true as never }) },
  { input: '`BackgroundWorkDashboardModule.forRoot({ guard: {} })`', raised: 'call', error: TypeError, message: `${D}.guard must be a guard class or an object with a canActivate() method, got an object`, call: () => BackgroundWorkDashboardModule.forRoot({ guard: {} as never }) },
  { input: '`BackgroundWorkDashboardModule.forRoot({ imports: AuthModule })` (not an array)', raised: 'call', error: TypeError, message: `${D}.imports must be an array of modules, got a function`, call: () => BackgroundWorkDashboardModule.forRoot({ imports: class AuthModule {} as never }) },
  { input: '`BackgroundWorkDashboardModule.forRoot({ readonly: true })` (misspelt)', raised: 'call', error: TypeError, message: `${D} has an unknown option "readonly"; known options are path, readOnly, guard, imports`, call: () => BackgroundWorkDashboardModule.forRoot({ readonly: true } as never) },
  {
    input: '`BackgroundWorkDashboardModule.forRoot()` without `BackgroundWorkModule`',
    raised: 'creation',
    error: Error,
    message: 'BackgroundWorkDashboardModule shows what BackgroundWorkModule runs: import BackgroundWorkModule.forRoot() in the application too',
    call: () => Test.createTestingModule({ imports: [BackgroundWorkDashboardModule.forRoot()] }).setLogger(new CapturingLogger()).compile(),
  },

  // ---- Recurring jobs: @Recurring (checked at bootstrap, naming the class), schedule(), unschedule() --------------
  {
    input: "`@Recurring('61 * * * *')` (a minute out of range)",
    raised: 'bootstrap',
    error: RangeError,
    message: '@Recurring on Ticked: the cron expression "61 * * * *" is not a valid cron expression: CronPattern: Invalid value for minute: 61',
    call: () => recurring('61 * * * *'),
  },
  {
    input: "`@Recurring('every day')` (not a cron expression)",
    raised: 'bootstrap',
    error: TypeError,
    message: '@Recurring on Ticked: the cron expression "every day" is not a valid cron expression',
    call: () => recurring('every day'),
  },
  {
    input: "`@Recurring('0 0 30 2 *')` (February 30th)",
    raised: 'bootstrap',
    error: RangeError,
    message: '@Recurring on Ticked: the cron expression "0 0 30 2 *" never fires: no time to come matches it',
    call: () => recurring('0 0 30 2 *'),
  },
  {
    input: "`@Recurring('2030-01-01T00:00:00')` (a date)",
    raised: 'bootstrap',
    error: TypeError,
    message: '@Recurring on Ticked: the cron expression "2030-01-01T00:00:00" is a date, not a cron expression; enqueue a one-off job with runAt instead',
    call: () => recurring('2030-01-01T00:00:00'),
  },
  { input: '`@Recurring(5)`', raised: 'bootstrap', error: TypeError, message: '@Recurring on Ticked: the cron expression must be a non-empty string, got 5', call: () => recurring(5) },
  {
    input: "`@Recurring('0 9 * * *', { tz: 'Mars/Olympus' })`",
    raised: 'bootstrap',
    error: RangeError,
    message: `@Recurring("0 9 * * *") on Ticked options.tz must be an IANA time zone such as 'Europe/Paris' or 'UTC', got "Mars/Olympus"`,
    call: () => recurring('0 9 * * *', { tz: 'Mars/Olympus' }),
  },
  {
    input: "`@Recurring('0 9 * * *', { overlap: 'never' })`",
    raised: 'bootstrap',
    error: RangeError,
    message: `@Recurring("0 9 * * *") on Ticked options.overlap must be 'allow' or 'skip', got "never"`,
    call: () => recurring('0 9 * * *', { overlap: 'never' }),
  },
  {
    input: "`@Recurring('0 9 * * *', { misfire: 'all' })`",
    raised: 'bootstrap',
    error: RangeError,
    message: `@Recurring("0 9 * * *") on Ticked options.misfire must be 'once' or 'skip', got "all"`,
    call: () => recurring('0 9 * * *', { misfire: 'all' }),
  },
  {
    input: "`@Recurring('0 9 * * *', { timezone: 'UTC' })` (misspelt)",
    raised: 'bootstrap',
    error: TypeError,
    message: '@Recurring("0 9 * * *") on Ticked options has an unknown option "timezone"; known options are id, tz, payload, overlap, misfire',
    call: () => recurring('0 9 * * *', { timezone: 'UTC' }),
  },
  { input: "`@Recurring('0 9 * * *', { id: '' })`", raised: 'bootstrap', error: TypeError, message: '@Recurring("0 9 * * *") on Ticked options.id must be a non-empty string, got ""', call: () => recurring('0 9 * * *', { id: '' }) },
  {
    input: '`@Recurring` with an `id` over 200 characters',
    raised: 'bootstrap',
    error: RangeError,
    message: '@Recurring("0 9 * * *") on Ticked options.id must be at most 200 characters, got 201',
    call: () => recurring('0 9 * * *', { id: 'x'.repeat(201) }),
  },
  {
    input: '`@Recurring` with a Date in its payload',
    raised: 'bootstrap',
    error: TypeError,
    message: '@Recurring("0 9 * * *") on Ticked options.payload.since: a Date; pass toISOString()',
    call: () => recurring('0 9 * * *', { payload: { since: new Date(0) } }),
  },
  {
    input: 'two `@Recurring` on one class without ids',
    raised: 'bootstrap',
    error: Error,
    message: '@Recurring on Twice and Twice both declare the schedule "twice"; a class with several @Recurring gives each an id',
    call: () => {
      @Recurring('0 9 * * *')
      @Recurring('0 18 * * *')
      @Job('twice')
      class Twice {
        run(): void {}
      }
      return bootstrap({ store: memoryStore() }, [Twice]);
    },
  },
  {
    input: '`@Recurring` on a class without `@Job`',
    raised: 'bootstrap',
    error: TypeError,
    message: '@Recurring on NotJob needs @Job(name) on the same class: each tick of a schedule inserts that job',
    call: () => {
      @Recurring('0 9 * * *')
      @Injectable()
      class NotJob {}
      return bootstrap({ store: memoryStore() }, [NotJob]);
    },
  },
  { input: "`jobs.schedule('', '0 9 * * *', 'echo')`", raised: 'promise', error: TypeError, message: 'BackgroundJobs.schedule(id) must be a non-empty string, got ""', call: (env) => env.jobs.schedule('', '0 9 * * *', 'echo') },
  {
    input: "`jobs.schedule('x', '0 9 * *', 'echo')` (four fields)",
    raised: 'promise',
    error: TypeError,
    message: 'BackgroundJobs.schedule(cron) "0 9 * *" is not a valid cron expression',
    call: (env) => env.jobs.schedule('x', '0 9 * *', 'echo'),
  },
  {
    input: "`jobs.schedule('x', '0 25 * * *', 'echo')` (hour 25)",
    raised: 'promise',
    error: RangeError,
    message: 'BackgroundJobs.schedule(cron) "0 25 * * *" is not a valid cron expression: CronPattern: Invalid value for hour: 25',
    call: (env) => env.jobs.schedule('x', '0 25 * * *', 'echo'),
  },
  {
    input: "`jobs.schedule('x', '0 9 * * *', 'echo', {}, { tz: 'Nowhere/City' })`",
    raised: 'promise',
    error: RangeError,
    message: `BackgroundJobs.schedule options.tz must be an IANA time zone such as 'Europe/Paris' or 'UTC', got "Nowhere/City"`,
    call: (env) => env.jobs.schedule('x', '0 9 * * *', 'echo', {}, { tz: 'Nowhere/City' }),
  },
  {
    input: "`jobs.schedule(…, { overlap: true })`",
    raised: 'promise',
    error: TypeError,
    message: `BackgroundJobs.schedule options.overlap must be 'allow' or 'skip', got true`,
    call: (env) => env.jobs.schedule('x', '0 9 * * *', 'echo', {}, { overlap: true as never }),
  },
  {
    input: "`jobs.schedule(…, { key: 'k' })` (not a schedule option)",
    raised: 'promise',
    error: TypeError,
    message: 'BackgroundJobs.schedule options has an unknown option "key"; known options are tz, overlap, misfire, queue, priority, retry, timeout',
    call: (env) => env.jobs.schedule('x', '0 9 * * *', 'echo', {}, { key: 'k' } as never),
  },
  {
    input: "`jobs.schedule('x', '0 9 * * *', NotAJob)`",
    raised: 'promise',
    error: TypeError,
    message: 'BackgroundJobs.schedule(job): NotAJob is not a @Job class',
    call: (env) => env.jobs.schedule('x', '0 9 * * *', NotAJob as never),
  },
  {
    input: '`jobs.schedule()` with a function in its payload',
    raised: 'promise',
    error: TypeError,
    message: 'payload.fn: a function',
    call: (env) => env.jobs.schedule('x', '0 9 * * *', 'echo', { fn: work }),
  },
  { input: '`jobs.unschedule(42)`', raised: 'promise', error: TypeError, message: 'BackgroundJobs.unschedule(id) must be a non-empty string, got 42', call: (env) => env.jobs.unschedule(42 as never) },
  {
    input: 'a `store` with some of the schedule calls',
    raised: 'call',
    error: TypeError,
    message: `${M}.store has upsertSchedule, listSchedules but not removeSchedule, fireDue: a job store has all the schedule calls or none`,
    call: () => {
      const store = memoryStore();
      return root({ store: { ...Object.fromEntries(STORE_CALLS.map((m) => [m, () => undefined])), upsertSchedule: store.upsertSchedule, listSchedules: store.listSchedules } });
    },
  },
];

// ---- the environment the calls work on ------------------------------------------------------------------------

let env: Env;
const apps: TestApp[] = [];
const release = gate();

beforeAll(async () => {
  const live = await startApp({ queues: { full: { concurrency: 1, capacity: 1 } }, threads: { maxThreads: 1, minThreads: 0 } });
  apps.push(live);
  const full = live.app.get<BackgroundQueue>(getQueueToken('full'));
  full.enqueue(() => release.promise);
  while (full.stats().running === 0) await sleep(1);
  full.enqueue(work); // pending: the queue is now at its capacity of 1

  const queue = live.app.get(BackgroundQueue);
  const running = gate<WorkContext>();
  queue.enqueue((context) => {
    running.open(context);
    return release.promise;
  });
  const ctx = await running.promise;

  const closed = await startApp({ threads: { maxThreads: 1, minThreads: 0 } });
  const closedQueue = closed.app.get(BackgroundQueue);
  const closedThreads = closed.app.get(WorkerThreads);
  await closed.app.close();

  const off = await createApp({ threads: false });
  apps.push(off);

  const withJobs = await startApp({ store: memoryStore() }, [EchoJob]);
  apps.push(withJobs);

  env = {
    queue,
    full,
    ctx,
    closedQueue,
    threads: live.app.get(WorkerThreads),
    closedThreads,
    threadsOff: off.app.get(WorkerThreads),
    jobs: withJobs.app.get(BackgroundJobs),
    health: live.app.get(BackgroundWorkHealthIndicator),
  };
});

afterAll(async () => {
  release.open();
  for (const { app } of apps) await app.close();
});

/** Runs the call and reports where its error surfaced: thrown by the call, or as the rejection of the promise it returned. */
async function outcome(entry: BadInput): Promise<{ raised: Raised | 'nothing'; error: unknown }> {
  let returned: unknown;
  try {
    returned = entry.call(env);
  } catch (error) {
    return { raised: 'call', error };
  }
  if (returned instanceof Promise) {
    try {
      await returned;
    } catch (error) {
      return { raised: entry.raised === 'call' ? 'promise' : entry.raised, error };
    }
  }
  return { raised: 'nothing', error: undefined };
}

describe('bad input', () => {
  it('the catalogue covers every public entry point with at least 25 inputs, each described once', () => {
    expect(catalogue.length).toBeGreaterThanOrEqual(25);
    expect(new Set(catalogue.map((entry) => entry.input)).size).toBe(catalogue.length);
  });

  it.each(catalogue.map((entry) => [entry.input, entry.error.name, RAISED[entry.raised], entry] as const))('%s: %s, %s', async (_input, _error, _raised, entry) => {
    const { raised, error } = await outcome(entry);
    // Where it was promised: at the call site (synchronously, never as a rejected promise or later in the
    // background), or as the rejection of the returned promise.
    expect(raised).toBe(entry.raised);
    expect(error).toBeInstanceOf(Error);
    // The exact class: a RangeError is not a TypeError, and a QueueFullError not just any Error.
    expect((error as Error).constructor).toBe(entry.error);
    expect((error as Error).message).toContain(entry.message);
  });

  it('WorkItem.cancel() takes any reason and never throws: false once the item has ended', async () => {
    const item = env.queue.enqueue(work);
    expect(item.cancel(Symbol('why'))).toBe(true);
    expect(item.cancel(new Error('again'))).toBe(false);
    const done = env.queue.enqueue(() => 1);
    await done.result;
    expect(done.cancel()).toBe(false);
  });
});

// ---- docs/errors.md lists the same catalogue -----------------------------------------------------------------

const HEADER = '| Input | Raised | Error | Message |';

function row(entry: BadInput): string {
  return `| ${entry.input} | ${RAISED[entry.raised]} | \`${entry.error.name}\` | \`${entry.message}\` |`;
}

describe('docs/errors.md', () => {
  it('lists every catalogue entry in its Bad-input catalogue section, in order, with the same error and message', () => {
    const page = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const start = page.indexOf('\n## Bad-input catalogue\n');
    expect(start, 'docs/errors.md has a "## Bad-input catalogue" section').toBeGreaterThan(0);
    const end = page.indexOf('\n## ', start + 1);
    const lines = page.slice(start, end === -1 ? undefined : end).split('\n');
    const header = lines.indexOf(HEADER);
    expect(header, `docs/errors.md's catalogue section has a table headed ${HEADER}`).toBeGreaterThan(0);
    const rows: string[] = [];
    for (let i = header + 2; i < lines.length && lines[i].startsWith('|'); i++) rows.push(lines[i]);

    const expected = catalogue.map(row);
    const table = [HEADER, '| --- | --- | --- | --- |', ...expected].join('\n');
    if (process.env.WRITE_CATALOGUE !== undefined) writeFileSync(process.env.WRITE_CATALOGUE, `${table}\n`);
    expect(rows, `docs/errors.md's catalogue table is out of step with this test; it should read:\n\n${table}\n`).toEqual(expected);
  });
});
