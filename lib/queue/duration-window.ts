import type { TimePercentiles } from '../threads/worker-threads.js';

const ORIGIN = performance.timeOrigin;

/**
 * Monotonic milliseconds for samples, always positive: a job's wait may have begun before this process did (it was
 * due in its store), which `performance.now()` alone would make negative.
 */
export function sampleClock(): number {
  return ORIGIN + performance.now();
}

/** Samples kept: the percentiles describe about the last thousand items, whatever the traffic. */
const SIZE = 1024;

/** The last `SIZE` durations in a ring buffer; percentiles are computed when read, not as samples arrive. */
export class DurationWindow {
  private readonly samples = new Float64Array(SIZE);
  private count = 0;
  private next = 0;

  /** Whether it holds its 1024 samples: new ones replace the oldest. */
  get full(): boolean {
    return this.count === SIZE;
  }

  add(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) & (SIZE - 1);
    if (this.count < SIZE) this.count++;
  }

  percentiles(): TimePercentiles {
    const n = this.count;
    if (n === 0) return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };
    const sorted = this.samples.slice(0, n).toSorted();
    const at = (p: number): number => round(sorted[Math.min(n - 1, Math.ceil(p * n) - 1)]!);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += sorted[i]!;
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: round(sorted[n - 1]!), mean: round(sum / n) };
  }
}

/** Microsecond precision is plenty for milliseconds, and keeps the figures readable. */
const round = (ms: number): number => Math.round(ms * 1000) / 1000;
