import { availableParallelism } from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';
import { MAX_TIMER_DELAY, checkNumber, checkObject, checkOneOf } from '../validation.js';

/** The worker-thread pool (Piscina underneath). */
export interface WorkerThreadsOptions {
  /** Threads kept alive when idle. Default: half the available parallelism (at least 1, at most maxThreads). */
  minThreads?: number;
  /** Most threads at once. Default: `os.availableParallelism()`. */
  maxThreads?: number;
  /** Milliseconds an idle thread above minThreads lives. Default 30_000: Piscina's 0 makes light load start and stop threads all the time. */
  idleTimeout?: number;
  /** Tasks that may wait for a thread before `run` rejects; `'auto'` is maxThreads². Default: no limit (bound the work with a queue). */
  maxQueue?: number | 'auto';
  /** V8 heap and stack limits of each thread. */
  resourceLimits?: ResourceLimits;
}

export interface ResolvedWorkerThreadsOptions {
  minThreads: number;
  maxThreads: number;
  idleTimeout: number;
  maxQueue: number | 'auto';
  resourceLimits: ResourceLimits | undefined;
}

const KEYS = ['minThreads', 'maxThreads', 'idleTimeout', 'maxQueue', 'resourceLimits'] as const;
const LIMIT_KEYS = ['maxOldGenerationSizeMb', 'maxYoungGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'] as const;

export function resolveWorkerThreadsOptions(path: string, value: unknown): ResolvedWorkerThreadsOptions | false {
  if (value === false) return false;
  const o = value === undefined ? {} : checkObject(path, value, KEYS);
  const maxThreads = o.maxThreads === undefined ? availableParallelism() : checkNumber(`${path}.maxThreads`, o.maxThreads, { min: 1 });
  const minThreads =
    o.minThreads === undefined
      ? Math.min(Math.max(Math.floor(availableParallelism() / 2), 1), maxThreads)
      : checkNumber(`${path}.minThreads`, o.minThreads, { min: 0 });
  if (minThreads > maxThreads) {
    throw new RangeError(`${path}.minThreads (${minThreads}) must not be greater than maxThreads (${maxThreads})`);
  }
  let resourceLimits: ResourceLimits | undefined;
  if (o.resourceLimits !== undefined) {
    const limits = checkObject(`${path}.resourceLimits`, o.resourceLimits, LIMIT_KEYS);
    resourceLimits = {};
    for (const key of LIMIT_KEYS) {
      if (limits[key] !== undefined) resourceLimits[key] = checkNumber(`${path}.resourceLimits.${key}`, limits[key], { min: 1 });
    }
  }
  return {
    minThreads,
    maxThreads,
    idleTimeout: o.idleTimeout === undefined ? 30_000 : checkNumber(`${path}.idleTimeout`, o.idleTimeout, { min: 0, max: MAX_TIMER_DELAY, infinity: true }),
    maxQueue:
      o.maxQueue === undefined
        ? Infinity
        : typeof o.maxQueue === 'string'
          ? checkOneOf(`${path}.maxQueue`, o.maxQueue, ['auto'] as const)
          : checkNumber(`${path}.maxQueue`, o.maxQueue, { min: 0, infinity: true }),
    resourceLimits,
  };
}
