import { Deque } from './deque.js';

/** A queue's `rateLimit`: at most `max` starts in any `per` ms. */
export interface RateLimit {
  /** Starts allowed in any window of `per` ms (an integer >= 1). */
  max: number;
  /** The window, in ms (an integer >= 1). */
  per: number;
}

/**
 * A sliding window over the times of the last starts: a start is allowed when fewer than `max` happened in the
 * last `per` ms. Unlike a token bucket or a fixed window it never lets `2 * max` through around a window's edge.
 * Keeps at most `max` times, and each is pushed and expired once: O(1) amortized per start. Times are
 * `performance.now()`, the monotonic clock: the wall clock is slewed (2% was measured on a VM), which would let
 * starts through faster than the limit in real time.
 */
export class RateLimiter {
  private readonly starts = new Deque<number>();

  constructor(
    readonly max: number,
    readonly per: number,
  ) {}

  /** Starts allowed at `now`. */
  available(now: number): number {
    this.expire(now);
    return this.max - this.starts.length;
  }

  /** Takes a start at `now` if one is allowed. */
  tryTake(now: number): boolean {
    if (this.available(now) <= 0) return false;
    this.starts.push(now);
    return true;
  }

  /** Ms from `now` until the next start is allowed: 0 when one is allowed now. */
  wait(now: number): number {
    if (this.available(now) > 0) return 0;
    return this.starts.peek()! + this.per - now;
  }

  private expire(now: number): void {
    const from = now - this.per;
    for (let t = this.starts.peek(); t !== undefined && t <= from; t = this.starts.peek()) this.starts.shift();
  }
}
