import { DEFAULT_QUEUE } from './background-work.constants.js';
import type { BackgroundWorkModuleOptions } from './background-work.options.js';
import type { ResolvedQueueOptions } from './queue/queue.options.js';
import { resolveQueueOptions } from './queue/resolve-queue-options.js';
import { resolveWorkerThreadsOptions, type ResolvedWorkerThreadsOptions } from './threads/worker-threads.options.js';
import { MAX_TIMER_DELAY, checkBoolean, checkNumber, checkObject, checkOneOf, checkString } from './validation.js';

export interface ResolvedModuleOptions {
  shutdownTimeout: number;
  queue: ResolvedQueueOptions;
  queues: Record<string, ResolvedQueueOptions>;
  startConcurrently: boolean;
  stopConcurrently: boolean;
  onServiceError: 'stop-app' | 'log';
  threads: ResolvedWorkerThreadsOptions | false;
}

const MODULE_KEYS = ['shutdownTimeout', 'queue', 'queues', 'startConcurrently', 'stopConcurrently', 'onServiceError', 'threads'] as const;
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
    queue: resolveQueueOptions(`${PATH}.queue`, options.queue),
    queues,
    startConcurrently: options.startConcurrently === undefined ? false : checkBoolean(`${PATH}.startConcurrently`, options.startConcurrently),
    stopConcurrently: options.stopConcurrently === undefined ? false : checkBoolean(`${PATH}.stopConcurrently`, options.stopConcurrently),
    onServiceError:
      options.onServiceError === undefined ? 'stop-app' : checkOneOf(`${PATH}.onServiceError`, options.onServiceError, ['stop-app', 'log']),
    threads: resolveWorkerThreadsOptions(`${PATH}.threads`, options.threads),
  };
}
