import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackgroundQueue, CancelledError, TimeoutError, type WorkContext } from 'nestjs-background-work';
import { gate, startApp, type TestApp } from '../support/create-app.js';

let current: TestApp | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await current?.app.close();
  current = undefined;
});

async function queueOf(options: Parameters<typeof startApp>[0] = {}): Promise<BackgroundQueue> {
  current = await startApp(options);
  return current.app.get(BackgroundQueue);
}

/** Lets a macrotask pass, so that a rejection nobody handled would have been reported (the setup file fails the test). */
const aTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('a work item read for the first time after it ended', () => {
  it('failed: no unhandled rejection, and awaiting result still rejects with the error', async () => {
    const queue = await queueOf();
    const item = queue.enqueue(() => Promise.reject(new Error('disk full')), { name: 'export' });
    await queue.onIdle();
    await aTurn();
    expect(item.state).toBe('failed');
    // The first read of `result` is here, after the failure was logged.
    await expect(item.result).rejects.toThrow('disk full');
    expect(current!.logger.messages('error').join('\n')).toContain('disk full');
  });

  it('cancelled while pending: no unhandled rejection, and awaiting result rejects with CancelledError', async () => {
    const queue = await queueOf({ queue: { concurrency: 1 } });
    const blocker = gate();
    const running = queue.enqueue(() => blocker.promise);
    const pending = queue.enqueue(() => 'never');
    expect(pending.cancel('not needed')).toBe(true);
    blocker.open();
    await queue.onIdle();
    await aTurn();
    expect(pending.state).toBe('cancelled');
    await expect(pending.result).rejects.toBeInstanceOf(CancelledError);
    await expect(running.result).resolves.toBeUndefined();
  });

  it('cancelled while running: no unhandled rejection, and awaiting result rejects with CancelledError', async () => {
    const queue = await queueOf();
    const item = queue.enqueue(
      ({ signal }: WorkContext) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
    );
    await vi.waitFor(() => expect(item.state).toBe('running'));
    expect(item.cancel()).toBe(true);
    await queue.onIdle();
    await aTurn();
    expect(item.state).toBe('cancelled');
    await expect(item.result).rejects.toBeInstanceOf(CancelledError);
  });
});

describe('retries', () => {
  it('a retried item goes back to the head of its queue: before items enqueued while it waited out its delay', async () => {
    const queue = await queueOf({ queue: { concurrency: 1 } });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const starts: string[] = [];
    let failures = 1;
    const flaky = queue.enqueue(
      () => {
        starts.push('flaky');
        if (failures-- > 0) throw new Error('first attempt fails');
        return 'flaky done';
      },
      { retry: { attempts: 2, backoff: 'fixed', delay: 1_000 } },
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(flaky.state).toBe('pending'); // waiting out its delay
    // While it waits, the only slot is taken and two more items queue up behind the one running.
    const blocker = gate();
    const busy = queue.enqueue(() => {
      starts.push('busy');
      return blocker.promise;
    });
    const later = ['b', 'c'].map((name) => queue.enqueue(() => void starts.push(name)));
    await vi.advanceTimersByTimeAsync(1_000); // the delay is over while 'busy' still runs
    expect(starts).toEqual(['flaky', 'busy']);
    blocker.open();
    await vi.advanceTimersByTimeAsync(0);
    await expect(flaky.result).resolves.toBe('flaky done');
    await Promise.all([busy.result, ...later.map((i) => i.result)]);
    expect(starts).toEqual(['flaky', 'busy', 'flaky', 'b', 'c']);
  });

  it('gives every attempt its own timeout, from the moment that attempt starts', async () => {
    // A short drain, so that a regression fails fast instead of holding app.close() for 30 s.
    const queue = await queueOf({ shutdownTimeout: 1_000 });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const signals: AbortSignal[] = [];
    const item = queue.enqueue(
      ({ signal, attempt }: WorkContext) => {
        signals.push(signal);
        if (attempt === 3) return 'third time lucky';
        // Honours its signal: ends when the attempt times out.
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
      },
      { timeout: 100, retry: { attempts: 3, backoff: 'fixed', delay: 1_000 } },
    );
    await vi.advanceTimersByTimeAsync(99);
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(signals[0]!.reason).toBeInstanceOf(TimeoutError);

    await vi.advanceTimersByTimeAsync(1_000); // the retry delay: attempt 2 starts at 1100 ms
    expect(signals).toHaveLength(2);
    // A timeout for the whole item would already have passed; this attempt has 100 ms of its own.
    await vi.advanceTimersByTimeAsync(99);
    expect(signals[1]!.aborted).toBe(false);
    expect(item.state).toBe('running');
    await vi.advanceTimersByTimeAsync(1);
    expect(signals[1]!.reason).toBeInstanceOf(TimeoutError);

    await vi.advanceTimersByTimeAsync(1_000);
    await expect(item.result).resolves.toBe('third time lucky');
    expect(signals).toHaveLength(3);
    expect(signals[2]!.aborted).toBe(false);
  });
});
