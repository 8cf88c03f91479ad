import type { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackgroundQueue } from '../../lib/queue/background-queue.js';
import { resolveQueueOptions } from '../../lib/queue/resolve-queue-options.js';

/** The smallest reproductions of the bugs the queue properties found (now fixed): regression tests. */

const silent = { log: () => {}, warn: () => {}, error: () => {} } as unknown as Logger;

afterEach(() => {
  vi.useRealTimers();
});

async function drainResolvesWhenCancelSettles(): Promise<void> {
  vi.useFakeTimers();
  const queue = new BackgroundQueue('q', resolveQueueOptions('queue', {}), silent);
  const item = queue.enqueue(
    () => {
      throw new Error('boom');
    },
    { retry: { attempts: 2, delay: 1_000 } },
  );
  await vi.advanceTimersByTimeAsync(0); // attempt 1 fails; the item waits 1 s for its retry
  queue.close();
  const deadline = new AbortController();
  setTimeout(() => deadline.abort(), 30_000);
  let drained = false;
  void queue.drain(deadline.signal, 1_000).then(() => (drained = true));

  item.cancel();
  await vi.advanceTimersByTimeAsync(0);

  expect(queue.stats()).toMatchObject({ pending: 0, running: 0, cancelled: 1 });
  expect(drained).toBe(true); // it once waited for the deadline, 30 s later
}

async function signalReadAfterCancelAtZeroIsAborted(): Promise<void> {
  vi.useFakeTimers({ now: 0 });
  const queue = new BackgroundQueue('q', resolveQueueOptions('queue', {}), silent);
  let aborted: boolean | undefined;
  const item = queue.enqueue(
    (ctx) =>
      new Promise<void>((resolve) =>
        setTimeout(() => {
          aborted = ctx.signal.aborted;
          resolve();
        }, 10),
      ),
  );
  await vi.advanceTimersByTimeAsync(0); // the function starts at t = 0
  item.cancel();
  await vi.advanceTimersByTimeAsync(10);

  expect(item.state).toBe('cancelled');
  expect(aborted).toBe(true); // it once was false: Attempt took abortedAt === 0 for "not aborted"
}

describe('bugs found by the queue properties', () => {
  it('drain() resolves as soon as a cancellation settles the queue', drainResolvesWhenCancelSettles);
  it('a signal read after its item was cancelled at fake time 0 is aborted', signalReadAfterCancelAtZeroIsAborted);
});
