import type { RateLimit } from './rate-limiter.js';
import type { ResolvedRetryPolicy } from './retry-policy.js';

/** How a failed work item is tried again. */
export interface RetryPolicy {
  /** Attempts in all, the first one included: `attempts: 3` runs an item at most three times. */
  attempts: number;
  /** `'exponential'` doubles the delay after every failure; `'fixed'` keeps it. Default `'exponential'`. */
  backoff?: 'fixed' | 'exponential';
  /** Milliseconds before the first retry. Default 1_000. */
  delay?: number;
  /** Upper bound of any one delay, in milliseconds. Default 30_000. */
  maxDelay?: number;
  /** Spread each delay at random over [delay / 2, delay] so that retries of many items do not arrive together. Default false. */
  jitter?: boolean;
}

export interface QueueOptions {
  /** Items running at once. Default 4. */
  concurrency?: number;
  /** Items waiting to start before `enqueue` throws `QueueFullError`. Default 10_000. */
  capacity?: number;
  /** Milliseconds per attempt before its signal aborts with a `TimeoutError`. Default: none (`Infinity`). */
  timeout?: number;
  /** Default retry policy of the queue's items; a number is `{ attempts: n }`. Default: no retry. */
  retry?: RetryPolicy | number;
  /** Default priority of the queue's items and jobs: higher starts first. Default 0. */
  priority?: number;
  /** At most `max` starts (retries included) in any `per` ms, items and jobs alike. Default: no limit. */
  rateLimit?: RateLimit;
}

/** Queue options after validation, with every default filled in. */
export interface ResolvedQueueOptions {
  concurrency: number;
  capacity: number;
  timeout: number | undefined;
  retry: ResolvedRetryPolicy | undefined;
  priority: number;
  rateLimit: RateLimit | undefined;
}
