import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackgroundQueue, CancelledError, QueueFullError } from 'nestjs-background-work';
import { startApp, type TestApp } from '../support/create-app.js';

let current: TestApp | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await current?.app.close();
  current = undefined;
});

const FAKE = { toFake: ['setTimeout', 'clearTimeout', 'Date'] as ('setTimeout' | 'clearTimeout' | 'Date')[] };

async function queueOf(options: Parameters<typeof startApp>[0] = {}): Promise<BackgroundQueue> {
  current = await startApp(options);
  return current.app.get(BackgroundQueue);
}

describe('delay', () => {
  it('keeps an item pending, counted against capacity, until its delay is over, never before', async () => {
    vi.useFakeTimers({ ...FAKE, now: 0 });
    const queue = await queueOf({ queue: { capacity: 2 } });
    let startedAt: number | undefined;
    const later = queue.enqueue(() => void (startedAt = Date.now()), { delay: 1_000 });
    const now = queue.enqueue(() => 'now');
    expect(() => queue.enqueue(() => 'third')).toThrow(QueueFullError);
    await vi.advanceTimersByTimeAsync(999);
    expect(now.state).toBe('succeeded');
    expect(later.state).toBe('pending');
    expect(queue.stats()).toMatchObject({ pending: 1, running: 0 });
    await vi.advanceTimersByTimeAsync(1);
    expect(startedAt).toBe(1_000);
    expect(later.state).toBe('succeeded');
  });

  it('a cancelled delayed item clears its timer', async () => {
    vi.useFakeTimers({ ...FAKE, now: 0 });
    const queue = await queueOf();
    const timers = vi.getTimerCount();
    const controller = new AbortController();
    const a = queue.enqueue(() => 'a', { delay: 5_000 });
    const b = queue.enqueue(() => 'b', { delay: 5_000, signal: controller.signal });
    expect(vi.getTimerCount()).toBe(timers + 2);
    a.cancel('not needed');
    controller.abort();
    expect(vi.getTimerCount()).toBe(timers);
    await expect(a.result).rejects.toBeInstanceOf(CancelledError);
    await expect(b.result).rejects.toBeInstanceOf(CancelledError);
    expect(queue.stats()).toMatchObject({ pending: 0, cancelled: 2 });
  });

  it('joins its group and priority when due, not at enqueue', async () => {
    vi.useFakeTimers({ ...FAKE, now: 0 });
    const queue = await queueOf({ queue: { concurrency: 1 } });
    const order: string[] = [];
    queue.enqueue(() => void order.push('delayed'), { delay: 10, group: 'g' });
    queue.enqueue(() => new Promise<void>((resolve) => setTimeout(() => resolve(void order.push('g now')), 50)), { group: 'g' });
    await vi.advanceTimersByTimeAsync(100);
    expect(order).toEqual(['g now', 'delayed']);
  });

  it('at shutdown an item not yet due is cancelled at once and named, not run early', async () => {
    const queue = await queueOf();
    let ran = false;
    const item = queue.enqueue(() => void (ran = true), { delay: 60_000, name: 'reminder' });
    const due = queue.enqueue(() => 'ran', { name: 'due' });
    const began = Date.now();
    await current!.app.close();
    expect(Date.now() - began).toBeLessThan(5_000); // the drain did not wait for it
    expect(ran).toBe(false);
    expect(item.state).toBe('cancelled');
    await expect(item.result).rejects.toThrow(/before its delay was over/);
    await expect(due.result).resolves.toBe('ran');
    expect(current!.logger.messages('warn')).toContain(`Queue "default": 1 delayed item not yet due cancelled at shutdown: #${item.id} "reminder"`);
    current = undefined;
  });
});
