import { MAX_TIMER_DELAY, checkNumber, checkObject } from '../validation.js';
import type { ResolvedQueueOptions } from './queue.options.js';
import type { RateLimit } from './rate-limiter.js';
import { resolveRetryPolicy } from './retry-policy.js';

export const QUEUE_DEFAULTS = { concurrency: 4, capacity: 10_000 } as const;
const QUEUE_KEYS = ['concurrency', 'capacity', 'timeout', 'retry', 'priority', 'rateLimit'] as const;
const RATE_LIMIT_KEYS = ['max', 'per'] as const;
/** Priorities are integers in a range that SQLite and BullMQ both keep exactly. */
export const PRIORITY_RANGE = { min: -1_000_000, max: 1_000_000 } as const;

export function resolvePriority(path: string, value: unknown, fallback: number): number {
  return value === undefined ? fallback : checkNumber(path, value, PRIORITY_RANGE);
}

/** A per-attempt timeout; `Infinity` means none (so that an item can opt out of its queue's timeout). */
export function resolveTimeout(path: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const timeout = checkNumber(path, value, { min: 1, max: MAX_TIMER_DELAY, infinity: true });
  return timeout === Infinity ? undefined : timeout;
}

/** A concurrency limit: an integer >= 1, or `Infinity` for none. */
export function resolveConcurrency(path: string, value: unknown): number {
  return checkNumber(path, value, { min: 1, infinity: true });
}

export function resolveRateLimit(path: string, value: unknown): RateLimit | undefined {
  if (value === undefined) return undefined;
  const o = checkObject(path, value, RATE_LIMIT_KEYS);
  return {
    max: checkNumber(`${path}.max`, o.max, { min: 1 }),
    per: checkNumber(`${path}.per`, o.per, { min: 1, max: MAX_TIMER_DELAY }),
  };
}

/** Validates one queue's options (`path` names it in errors, such as `queues.email`) and fills the defaults. */
export function resolveQueueOptions(path: string, value: unknown): ResolvedQueueOptions {
  const options = value === undefined ? {} : checkObject(path, value, QUEUE_KEYS);
  return {
    concurrency:
      options.concurrency === undefined
        ? QUEUE_DEFAULTS.concurrency
        : resolveConcurrency(`${path}.concurrency`, options.concurrency),
    capacity:
      options.capacity === undefined
        ? QUEUE_DEFAULTS.capacity
        : checkNumber(`${path}.capacity`, options.capacity, { min: 1, infinity: true }),
    timeout: resolveTimeout(`${path}.timeout`, options.timeout),
    retry: resolveRetryPolicy(`${path}.retry`, options.retry),
    priority: resolvePriority(`${path}.priority`, options.priority, 0),
    rateLimit: resolveRateLimit(`${path}.rateLimit`, options.rateLimit),
  };
}
