import { MAX_TIMER_DELAY, checkBoolean, checkNumber, checkObject, checkOneOf, describe } from '../validation.js';
import type { RetryPolicy } from './queue.options.js';

export type ResolvedRetryPolicy = Required<RetryPolicy>;

const RETRY_KEYS = ['attempts', 'backoff', 'delay', 'maxDelay', 'jitter'] as const;

/** Validates a `retry` option and fills its defaults; `undefined` means no retry. */
export function resolveRetryPolicy(path: string, value: unknown): ResolvedRetryPolicy | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') {
    return resolveRetryPolicy(path, { attempts: checkNumber(path, value, { min: 1 }) });
  }
  if (value === null || typeof value !== 'object') {
    throw new TypeError(`${path} must be a number of attempts or a RetryPolicy object, got ${describe(value)}`);
  }
  const policy = checkObject(path, value, RETRY_KEYS);
  const resolved: ResolvedRetryPolicy = {
    attempts: checkNumber(`${path}.attempts`, policy.attempts, { min: 1 }),
    backoff: policy.backoff === undefined ? 'exponential' : checkOneOf(`${path}.backoff`, policy.backoff, ['fixed', 'exponential']),
    delay: policy.delay === undefined ? 1_000 : checkNumber(`${path}.delay`, policy.delay, { min: 0, max: MAX_TIMER_DELAY }),
    maxDelay: policy.maxDelay === undefined ? 0 : checkNumber(`${path}.maxDelay`, policy.maxDelay, { min: 0, max: MAX_TIMER_DELAY }),
    jitter: policy.jitter === undefined ? false : checkBoolean(`${path}.jitter`, policy.jitter),
  };
  // Unset, the cap is 30 s, or the first delay when that is longer; set, it must not undercut the first delay.
  if (policy.maxDelay === undefined) resolved.maxDelay = Math.max(30_000, resolved.delay);
  else if (resolved.maxDelay < resolved.delay) {
    throw new RangeError(`${path}.maxDelay (${resolved.maxDelay}) must not be less than ${path}.delay (${resolved.delay})`);
  }
  if (resolved.attempts === 1) return undefined;
  return resolved;
}

/** Milliseconds to wait before attempt `failedAttempt + 1`. */
export function retryDelay(policy: ResolvedRetryPolicy, failedAttempt: number): number {
  const base = policy.backoff === 'fixed' ? policy.delay : policy.delay * 2 ** (failedAttempt - 1);
  const capped = Math.min(base, policy.maxDelay);
  return policy.jitter ? Math.round(capped / 2 + Math.random() * (capped / 2)) : capped;
}
