import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackgroundQueue, getQueueToken } from 'nestjs-background-work';
import { startApp, type TestApp } from '../support/create-app.js';

let current: TestApp | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await current?.app.close();
  current = undefined;
});

/** The limiter reads the monotonic clock, `performance.now()`: faked with the timers, as Vitest does by default. */
const FAKE = { toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] as ('setTimeout' | 'clearTimeout' | 'Date' | 'performance')[] };

/** The largest number of `starts` in any window of `per` ms (each window opening at a start). */
function busiestWindow(starts: number[], per: number): number {
  let most = 0;
  for (let i = 0, j = 0; i < starts.length; i++) {
    while (starts[i]! - starts[j]! >= per) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('rateLimit', () => {
  it('holds max starts per window over ten windows, with no burst at the window edges, and one timer', async () => {
    vi.useFakeTimers({ ...FAKE, now: 0 });
    current = await startApp({ queues: { email: { concurrency: Infinity, rateLimit: { max: 5, per: 1_000 } } } });
    const queue = current.app.get<BackgroundQueue>(getQueueToken('email'));
    const starts: number[] = [];
    for (let i = 0; i < 60; i++) queue.enqueue(() => void starts.push(Date.now()));
    await vi.advanceTimersByTimeAsync(0);
    expect(starts).toHaveLength(5);
    expect(vi.getTimerCount()).toBe(1); // one timer for the queue, not one per waiting item
    await vi.advanceTimersByTimeAsync(9_999);
    // Ten windows: 5 at t=0, then 5 at every second up to t=9000.
    expect(starts).toHaveLength(50);
    expect(busiestWindow(starts, 1_000)).toBe(5);
    expect(new Set(starts)).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((s) => s * 1_000)));
    await vi.advanceTimersByTimeAsync(2_000);
    expect(starts).toHaveLength(60);
    await queue.onIdle();
  });

  it('slides: starts spread over the window free their places one by one', async () => {
    vi.useFakeTimers({ ...FAKE, now: 0 });
    current = await startApp({ queue: { concurrency: 1, rateLimit: { max: 3, per: 100 } } });
    const queue = current.app.get(BackgroundQueue);
    const starts: number[] = [];
    // Each item takes 30 ms: at concurrency 1 they start at 0, 30, 60; the 4th waits for the 1st to leave the window.
    const work = () => {
      starts.push(Date.now());
      return new Promise((resolve) => setTimeout(resolve, 30));
    };
    for (let i = 0; i < 7; i++) queue.enqueue(work);
    await vi.advanceTimersByTimeAsync(400);
    expect(starts).toEqual([0, 30, 60, 100, 130, 160, 200]);
    expect(busiestWindow(starts, 100)).toBe(3);
  });

  it('counts retries as starts', async () => {
    vi.useFakeTimers({ ...FAKE, now: 0 });
    current = await startApp({ queue: { concurrency: Infinity, rateLimit: { max: 2, per: 1_000 } } });
    const queue = current.app.get(BackgroundQueue);
    const starts: string[] = [];
    const flaky = queue.enqueue(
      (ctx) => {
        starts.push(`flaky ${ctx.attempt} at ${Date.now()}`);
        if (ctx.attempt === 1) throw new Error('once');
      },
      { retry: { attempts: 2, delay: 10 } },
    );
    queue.enqueue(() => void starts.push(`b at ${Date.now()}`));
    queue.enqueue(() => void starts.push(`c at ${Date.now()}`));
    await vi.advanceTimersByTimeAsync(3_000);
    // The retry, due at 10 ms, takes a place of the window at 1000 as c does; the next place is at 2000.
    expect(starts).toEqual(['flaky 1 at 0', 'b at 0', 'flaky 2 at 1000', 'c at 1000']);
    await expect(flaky.result).resolves.toBeUndefined();
  });

  it('cancelled items waiting for the limit take no place in it', async () => {
    vi.useFakeTimers({ ...FAKE, now: 0 });
    current = await startApp({ queue: { concurrency: Infinity, rateLimit: { max: 1, per: 1_000 } } });
    const queue = current.app.get(BackgroundQueue);
    const starts: string[] = [];
    queue.enqueue(() => void starts.push(`a at ${Date.now()}`));
    const b = queue.enqueue(() => void starts.push(`b at ${Date.now()}`));
    queue.enqueue(() => void starts.push(`c at ${Date.now()}`));
    await vi.advanceTimersByTimeAsync(10);
    b.cancel();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(starts).toEqual(['a at 0', 'c at 1000']);
  });

  it('a limited queue with pending items drains at shutdown within the limit and cancels what the deadline cuts off', async () => {
    current = await startApp({ shutdownTimeout: 300, queue: { concurrency: Infinity, rateLimit: { max: 2, per: 1_000 } } });
    const queue = current.app.get(BackgroundQueue);
    const items = Array.from({ length: 4 }, (_, i) => queue.enqueue(() => i, { name: `mail ${i}` }));
    await current.app.close();
    expect(items.map((i) => i.state)).toEqual(['succeeded', 'succeeded', 'cancelled', 'cancelled']);
    expect(current.logger.messages('warn').join('\n')).toContain('2 pending items cancelled at the shutdown deadline');
    current = undefined;
  });
});
