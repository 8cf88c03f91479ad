import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundQueue, type TimePercentiles } from 'nestjs-background-work';
import { sleep, startApp, type TestApp } from '../support/create-app.js';

let current: TestApp | undefined;
afterEach(async () => {
  await current?.app.close();
  current = undefined;
});

function ordered(t: TimePercentiles): void {
  expect(t.p50).toBeLessThanOrEqual(t.p90);
  expect(t.p90).toBeLessThanOrEqual(t.p99);
  expect(t.p99).toBeLessThanOrEqual(t.max);
  expect(t.mean).toBeLessThanOrEqual(t.max);
}

describe('stats() waitMs and runMs', () => {
  it('are zero until stats() is first read, then describe the items that start after it', async () => {
    current = await startApp({ queue: { concurrency: 1 } });
    const queue = current.app.get(BackgroundQueue);
    await queue.enqueue(() => sleep(5)).result;
    const first = queue.stats();
    expect(first.waitMs).toEqual({ p50: 0, p90: 0, p99: 0, max: 0, mean: 0 });
    expect(first.runMs).toEqual({ p50: 0, p90: 0, p99: 0, max: 0, mean: 0 });

    // 20 items of about 2 ms at concurrency 1: the n-th waits for the n - 1 before it.
    const items = Array.from({ length: 20 }, (_, i) => queue.enqueue(() => sleep(i === 19 ? 30 : 2)));
    await Promise.all(items.map((i) => i.result));
    const { waitMs, runMs } = queue.stats();
    ordered(waitMs);
    ordered(runMs);
    expect(runMs.p50).toBeGreaterThanOrEqual(1);
    expect(runMs.max).toBeGreaterThanOrEqual(29); // the last one slept 30 ms
    expect(runMs.max).toBeGreaterThan(runMs.p50);
    expect(waitMs.max).toBeGreaterThanOrEqual(19 * 1.5); // the last waited for 19 others
    expect(waitMs.p50).toBeGreaterThan(0);
  });
});
