import { describe, expect, it } from 'vitest';
import { HISTORY_MINUTES, QueueHistory } from '../../lib/dashboard/throughput-history.js';
import type { WorkEvent } from '../../lib/queue/work-event.js';

const event = (type: WorkEvent['type'], id: string): WorkEvent => ({ type, id, queue: 'q', attempt: 1 }) as WorkEvent;

/** The dashboard's hour of history for one queue, on a clock the test moves. */
function history() {
  let mono = 0;
  const h = new QueueHistory(() => mono, Date.UTC(2026, 11, 6, 12, 0, 0));
  const counters = { succeeded: 0, failed: 0 };
  h.sample(0, 0);
  return {
    h,
    /** An attempt of `ms` that ends with `outcome`, counted by the queue as its stats() would. */
    run(id: string, ms: number, outcome: 'succeeded' | 'failed' | 'retrying' | 'cancelled' = 'succeeded') {
      h.observe(event('started', id));
      mono += ms;
      h.observe(event(outcome, id));
      if (outcome === 'succeeded' || outcome === 'failed') counters[outcome]++;
    },
    sample() {
      h.sample(counters.succeeded, counters.failed);
    },
    advance(minutes: number) {
      mono += minutes * 60_000;
    },
  };
}

describe('QueueHistory', () => {
  it('counts outcomes by minute from the sampled counters, and run-time percentiles within 5%', () => {
    const { h, run, sample, advance } = history();
    for (let i = 1; i <= 100; i++) run(`a${i}`, i); // 1..100 ms
    run('f1', 400, 'failed');
    sample();
    advance(1);
    run('b', 2_000);
    sample();
    const view = h.view();
    expect(view.succeeded).toHaveLength(HISTORY_MINUTES);
    expect(view.succeeded.slice(-2)).toEqual([100, 1]);
    expect(view.failed.slice(-2)).toEqual([1, 0]);
    expect(view.p50.at(-2)).toBeGreaterThanOrEqual(51 * 0.95);
    expect(view.p50.at(-2)).toBeLessThanOrEqual(51 * 1.05);
    expect(view.p95.at(-2)).toBeGreaterThanOrEqual(96 * 0.95);
    expect(view.p95.at(-2)).toBeLessThanOrEqual(96 * 1.05);
    expect(view.p50.at(-1)).toBeGreaterThanOrEqual(2_000 * 0.95);
    expect(view.p50.at(-1)).toBeLessThanOrEqual(2_000 * 1.05);
    expect(view.p50.slice(0, -2).every((v) => v === null)).toBe(true);
    expect(view.hour).toMatchObject({ succeeded: 101, failed: 1 });
  });

  it('times every attempt that ends, and none that started before it listened or was cancelled', () => {
    const { h, run } = history();
    h.observe({ type: 'succeeded', id: 'unseen', queue: 'q', attempt: 1 });
    run('x', 10, 'retrying');
    run('x', 30, 'failed');
    run('y', 5, 'cancelled');
    const view = h.view();
    // Two attempts timed: 10 and 30 ms.
    expect(view.hour.p50).toBeGreaterThanOrEqual(9.5);
    expect(view.hour.p50).toBeLessThanOrEqual(10.5);
    expect(view.hour.p95).toBeGreaterThanOrEqual(28.5);
    expect(view.hour.p95).toBeLessThanOrEqual(31.5);
  });

  it('keeps an hour: older minutes drop out as the clock moves on', () => {
    const { h, run, sample, advance } = history();
    run('old', 1);
    sample();
    advance(HISTORY_MINUTES - 1);
    expect(h.view().succeeded[0]).toBe(1);
    advance(1);
    run('new', 1);
    sample();
    const view = h.view();
    expect(view.hour.succeeded).toBe(1);
    expect(view.succeeded.at(-1)).toBe(1);
    expect(view.succeeded.slice(0, -1).every((n) => n === 0)).toBe(true);
  });
});
