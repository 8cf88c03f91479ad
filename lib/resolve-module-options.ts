import { DEFAULT_QUEUE } from './background-work.constants.js';
import type { JobStore } from './jobs/stores/job-store.js';
import { memoryStore } from './jobs/stores/memory-store.js';
import type { BackgroundWorkModuleOptions } from './background-work.options.js';
import type { ResolvedQueueOptions } from './queue/queue.options.js';
import { resolveQueueOptions } from './queue/resolve-queue-options.js';
import { resolveWorkerThreadsOptions, type ResolvedWorkerThreadsOptions } from './threads/worker-threads.options.js';
import { MAX_TIMER_DELAY, checkBoolean, checkNumber, checkObject, checkOneOf, checkString, describe } from './validation.js';

export interface ResolvedModuleOptions {
  shutdownTimeout: number;
  /** Infinity: none. */
  startupTimeout: number;
  queue: ResolvedQueueOptions;
  queues: Record<string, ResolvedQueueOptions>;
  startConcurrently: boolean;
  stopConcurrently: boolean;
  onServiceError: 'stop-app' | 'log';
  threads: ResolvedWorkerThreadsOptions | false;
  store: JobStore;
  telemetry: boolean;
}

const STORE_METHODS = ['open', 'close', 'insert', 'claim', 'settle', 'renew', 'recover', 'get', 'list', 'cancel', 'retry', 'counts', 'countsByQueue', 'nextRunAt', 'oldestPending', 'sweep'] as const;

/** The schedule calls of the store seam: a store has all of them or none. */
const SCHEDULE_METHODS = ['upsertSchedule', 'removeSchedule', 'listSchedules', 'fireDue'] as const;

function checkStore(path: string, value: unknown): JobStore {
  const missing = value !== null && typeof value === 'object' ? STORE_METHODS.filter((m) => typeof (value as Record<string, unknown>)[m] !== 'function') : STORE_METHODS;
  if (missing.length > 0) {
    throw new TypeError(`${path} must be a job store such as memoryStore() or sqliteStore({ path }), got ${describe(value)}${value !== null && typeof value === 'object' ? ` (it has no ${missing.join(', ')})` : ''}`);
  }
  const scheduling = SCHEDULE_METHODS.filter((m) => typeof (value as Record<string, unknown>)[m] === 'function');
  if (scheduling.length > 0 && scheduling.length < SCHEDULE_METHODS.length) {
    const absent = SCHEDULE_METHODS.filter((m) => !scheduling.includes(m));
    throw new TypeError(`${path} has ${scheduling.join(', ')} but not ${absent.join(', ')}: a job store has all the schedule calls or none`);
  }
  const capabilities = (value as { capabilities?: unknown }).capabilities;
  if (capabilities === null || typeof capabilities !== 'object' || typeof (capabilities as { groups?: unknown }).groups !== 'boolean') {
    throw new TypeError(`${path}.capabilities must be an object such as { groups: false } (what the store does beyond the calls every store answers), got ${describe(capabilities)}`);
  }
  return value as JobStore;
}

const MODULE_KEYS = ['shutdownTimeout', 'queue', 'queues', 'startConcurrently', 'stopConcurrently', 'onServiceError', 'threads', 'store', 'startupTimeout', 'telemetry'] as const;
const PATH = 'BackgroundWorkModule options';

/** Validates the module options (a bad value is a TypeError or RangeError naming it) and fills the defaults. */
export function resolveModuleOptions(value: unknown): ResolvedModuleOptions {
  const options = (value === undefined ? {} : checkObject(PATH, value, MODULE_KEYS)) as BackgroundWorkModuleOptions;
  const queues: Record<string, ResolvedQueueOptions> = {};
  if (options.queues !== undefined) {
    const named = checkObject(`${PATH}.queues`, options.queues);
    for (const [name, queue] of Object.entries(named)) {
      checkString(`${PATH}.queues key`, name);
      if (name === DEFAULT_QUEUE) {
        throw new RangeError(`${PATH}.queues must not name a queue "${DEFAULT_QUEUE}": configure the default queue with the queue option`);
      }
      queues[name] = resolveQueueOptions(`${PATH}.queues.${name}`, queue);
    }
  }
  return {
    shutdownTimeout:
      options.shutdownTimeout === undefined
        ? 30_000
        : checkNumber(`${PATH}.shutdownTimeout`, options.shutdownTimeout, { min: 0, max: MAX_TIMER_DELAY }),
    startupTimeout:
      options.startupTimeout === undefined
        ? Infinity
        : checkNumber(`${PATH}.startupTimeout`, options.startupTimeout, { min: 1, max: MAX_TIMER_DELAY, infinity: true }),
    queue: resolveQueueOptions(`${PATH}.queue`, options.queue),
    queues,
    startConcurrently: options.startConcurrently === undefined ? false : checkBoolean(`${PATH}.startConcurrently`, options.startConcurrently),
    stopConcurrently: options.stopConcurrently === undefined ? false : checkBoolean(`${PATH}.stopConcurrently`, options.stopConcurrently),
    onServiceError:
      options.onServiceError === undefined ? 'stop-app' : checkOneOf(`${PATH}.onServiceError`, options.onServiceError, ['stop-app', 'log']),
    threads: resolveWorkerThreadsOptions(`${PATH}.threads`, options.threads),
    store: options.store === undefined ? memoryStore() : checkStore(`${PATH}.store`, options.store),
    telemetry: options.telemetry === undefined ? true : checkBoolean(`${PATH}.telemetry`, options.telemetry),
  };
}
