import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackgroundQueue, CancelledError, TimeoutError, type WorkContext } from 'nestjs-background-work';
import { gate, sleep, startApp, type TestApp } from '../support/create-app.js';

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

describe('failing work', () => {
  it.each([
    ['a synchronous throw', () => {
      throw new Error('sync boom');
    }, 'Error: sync boom'],
    ['a rejected promise', () => Promise.reject(new TypeError('async boom')), 'TypeError: async boom'],
    ['a thrown non-Error', () => {
      throw { code: 42 };
    }, 'a non-Error was thrown: {"code":42}'],
  ])('logs %s with the item id and name, counts it, and keeps the queue going', async (_, work, text) => {
    const queue = await queueOf();
    const failing = queue.enqueue(work, { name: 'doomed' });
    const after = queue.enqueue(() => 'still runs');
    await expect(after.result).resolves.toBe('still runs');
    await expect(failing.result).rejects.toBeDefined();
    expect(failing.state).toBe('failed');
    expect(queue.stats()).toMatchObject({ failed: 1, succeeded: 1 });
    const errors = current!.logger.messages('error');
    expect(errors).toEqual([`Work item #${failing.id} "doomed" on queue "default" failed: ${text}`]);
  });

  it('never raises an unhandled rejection for a failure nobody awaits, read or not', async () => {
    const queue = await queueOf();
    queue.enqueue(() => Promise.reject(new Error('ignored')));
    const read = queue.enqueue(() => Promise.reject(new Error('read, not awaited')));
    void read.result;
    await queue.onIdle();
    const late = read.result; // read after it failed
    expect(late).toBe(read.result);
    await sleep(5);
    // the setup file fails this test if anything went unhandled
  });

  it('throws TypeError for work that is not a function and for bad options, at the call site', async () => {
    const queue = await queueOf();
    expect(() => queue.enqueue('nope' as never)).toThrow(TypeError);
    expect(() => queue.enqueue('nope' as never)).toThrow('default.enqueue(work) must be a function, got "nope"');
    expect(() => queue.enqueue(() => 1, { timeout: -5 })).toThrow(RangeError);
    expect(() => queue.enqueue(() => 1, { timeout: -5 })).toThrow(/timeout must be an integer/);
    expect(() => queue.enqueue(() => 1, { signal: {} as never })).toThrow(/signal must be an AbortSignal/);
    expect(() => queue.enqueue(() => 1, { retry: { attempts: 0 } })).toThrow(/retry.attempts/);
    expect(() => queue.enqueue(() => 1, { nmae: 'typo' } as never)).toThrow(/unknown option "nmae"/);
    expect(() => queue.enqueueAsync(42 as never)).toThrow(TypeError);
    expect(queue.stats()).toMatchObject({ pending: 0, failed: 0 });
  });
});

describe('timeout', () => {
  it('aborts the signal with a TimeoutError and fails the item at once', async () => {
    const queue = await queueOf();
    let reason: unknown;
    const item = queue.enqueue(
      (ctx) =>
        new Promise((_, reject) => {
          ctx.signal.addEventListener('abort', () => {
            reason = ctx.signal.reason;
            reject(ctx.signal.reason);
          });
        }),
      { timeout: 20, name: 'slow' },
    );
    await expect(item.result).rejects.toBeInstanceOf(TimeoutError);
    expect(reason).toBeInstanceOf(TimeoutError);
    expect((reason as TimeoutError).timeout).toBe(20);
    expect(item.state).toBe('failed');
  });

  it('keeps the slot taken until a function that ignores its signal returns, and names it in a warning', async () => {
    const queue = await queueOf({ queue: { concurrency: 1, timeout: 20 } });
    const release = gate();
    let secondStarted = false;
    const stubborn = queue.enqueue(() => release.promise, { name: 'stubborn' });
    const second = queue.enqueue(() => {
      secondStarted = true;
    });
    await expect(stubborn.result).rejects.toBeInstanceOf(TimeoutError);
    await sleep(1_200);
    expect(secondStarted).toBe(false);
    expect(queue.stats().running).toBe(0);
    expect(current!.logger.messages('warn').join('\n')).toMatch(
      new RegExp(`Work item #${stubborn.id} "stubborn" on queue "default" ignores its aborted signal`),
    );
    release.open();
    await second.result;
    expect(secondStarted).toBe(true);
  });

  it('applies the queue timeout to every attempt; a per-item timeout overrides it, and Infinity turns it off', async () => {
    const queue = await queueOf({ queue: { timeout: 10 } });
    const short = queue.enqueue((ctx) => sleepUntilAborted(ctx, 1_000));
    const long = queue.enqueue((ctx) => sleepUntilAborted(ctx, 30).then(() => 'ok'), { timeout: 5_000 });
    const unbounded = queue.enqueue((ctx) => sleepUntilAborted(ctx, 40).then(() => 'no limit'), { timeout: Infinity });
    await expect(short.result).rejects.toBeInstanceOf(TimeoutError);
    await expect(long.result).resolves.toBe('ok');
    await expect(unbounded.result).resolves.toBe('no limit');
  });
});

describe('retry', () => {
  it('retries with the attempt number in the context and exponential backoff', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const queue = await queueOf();
    const attempts: number[] = [];
    const item = queue.enqueue(
      (ctx) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt < 4) throw new Error(`fail ${ctx.attempt}`);
        return 'finally';
      },
      { retry: { attempts: 4, backoff: 'exponential', delay: 100 }, name: 'flaky' },
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(attempts).toEqual([1]);
    expect(item.state).toBe('pending');
    await vi.advanceTimersByTimeAsync(99);
    expect(attempts).toEqual([1]);
    await vi.advanceTimersByTimeAsync(1);
    expect(attempts).toEqual([1, 2]);
    await vi.advanceTimersByTimeAsync(199);
    expect(attempts).toEqual([1, 2]);
    await vi.advanceTimersByTimeAsync(1);
    expect(attempts).toEqual([1, 2, 3]);
    await vi.advanceTimersByTimeAsync(400);
    expect(attempts).toEqual([1, 2, 3, 4]);
    await expect(item.result).resolves.toBe('finally');
    const retries = current!.logger.messages('warn').filter((m) => m.includes('retrying'));
    expect(retries).toHaveLength(3);
    expect(retries[0]).toMatch(`Work item #${item.id} "flaky" on queue "default" failed on attempt 1 of 4, retrying in 100 ms: Error: fail 1`);
  });

  it('keeps a fixed delay under its cap, and fails with the last error after the last attempt', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const queue = await queueOf({ queue: { retry: { attempts: 3, backoff: 'fixed', delay: 50 } } });
    const seen: number[] = [];
    const item = queue.enqueue((ctx) => {
      seen.push(Date.now());
      throw new Error(`attempt ${ctx.attempt}`);
    });
    await vi.advanceTimersByTimeAsync(1_000);
    await expect(item.result).rejects.toThrow('attempt 3');
    expect(seen.slice(1).map((t, i) => t - seen[i])).toEqual([50, 50]);
    expect(current!.logger.messages('error')).toEqual([`Work item #${item.id} on queue "default" failed after 3 attempts: Error: attempt 3`]);
  });

  it('caps exponential delays at maxDelay and spreads them with jitter', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const queue = await queueOf();
    const seen: number[] = [];
    queue.enqueue(
      () => {
        seen.push(Date.now());
        throw new Error('again');
      },
      { retry: { attempts: 6, delay: 100, maxDelay: 300, jitter: true } },
    );
    await vi.advanceTimersByTimeAsync(5_000);
    const gaps = seen.slice(1).map((t, i) => t - seen[i]);
    const caps = [100, 200, 300, 300, 300];
    expect(gaps).toHaveLength(5);
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(caps[i] / 2);
      expect(gap).toBeLessThanOrEqual(caps[i]);
    });
  });

  it('retries a timed-out attempt with a fresh signal', async () => {
    const queue = await queueOf({ queue: { timeout: 15, retry: { attempts: 2, delay: 0 } } });
    const signals: AbortSignal[] = [];
    const item = queue.enqueue(async (ctx) => {
      signals.push(ctx.signal);
      if (ctx.attempt === 1) await sleepUntilAborted(ctx, 10_000);
      return ctx.attempt;
    });
    await expect(item.result).resolves.toBe(2);
    expect(signals[0].aborted).toBe(true);
    expect(signals[1].aborted).toBe(false);
  });
});

describe('cancel', () => {
  it('cancels a pending item: it never runs and its result rejects with CancelledError', async () => {
    const queue = await queueOf({ queue: { concurrency: 1 } });
    const hold = gate();
    queue.enqueue(() => hold.promise);
    let ran = false;
    const item = queue.enqueue(() => (ran = true), { name: 'unwanted' });
    expect(item.cancel()).toBe(true);
    expect(item.cancel()).toBe(false);
    expect(item.state).toBe('cancelled');
    await expect(item.result).rejects.toBeInstanceOf(CancelledError);
    hold.open();
    await queue.onIdle();
    expect(ran).toBe(false);
    expect(queue.stats()).toMatchObject({ cancelled: 1, succeeded: 1, pending: 0 });
    expect(current!.logger.messages('log').some((m) => m.includes(`#${item.id} "unwanted"`) && m.includes('cancelled'))).toBe(true);
  });

  it('cancels a running item by aborting its signal with the reason given', async () => {
    const queue = await queueOf();
    const started = gate();
    let seen: unknown;
    const item = queue.enqueue(async (ctx) => {
      started.open();
      await sleepUntilAborted(ctx, 10_000).catch((error: unknown) => (seen = error));
    });
    await started.promise;
    const reason = new Error('user pressed stop');
    expect(item.cancel(reason)).toBe(true);
    const error = await item.result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CancelledError);
    expect(error).toMatchObject({ message: `Work item #${item.id} was cancelled: Error: user pressed stop`, cause: reason });
    await queue.onIdle();
    await sleep(5);
    expect(seen).toBe(error); // the signal aborts with the same error the result rejects with
    expect(item.state).toBe('cancelled');
  });

  it('cancels through the caller signal, pending or running, and stops listening once the item ends', async () => {
    const queue = await queueOf({ queue: { concurrency: 1 } });
    const controller = new AbortController();
    const running = queue.enqueue((ctx) => sleepUntilAborted(ctx, 10_000), { signal: controller.signal });
    const pending = queue.enqueue(() => 1, { signal: controller.signal });
    await sleep(0);
    controller.abort(new Error('request closed'));
    await expect(running.result).rejects.toThrow(CancelledError);
    await expect(pending.result).rejects.toThrow('was cancelled: Error: request closed');
    expect(queue.stats().cancelled).toBe(2);

    const reused = new AbortController();
    const done = queue.enqueue(() => 'ok', { signal: reused.signal });
    await done.result;
    reused.abort();
    expect(done.state).toBe('succeeded');
  });

  it('cancels an item waiting out its retry delay', async () => {
    const queue = await queueOf();
    let attempts = 0;
    const item = queue.enqueue(
      () => {
        attempts++;
        throw new Error('x');
      },
      { retry: { attempts: 5, delay: 10_000 } },
    );
    await sleep(10);
    expect(item.state).toBe('pending');
    expect(item.cancel()).toBe(true);
    await expect(item.result).rejects.toBeInstanceOf(CancelledError);
    expect(attempts).toBe(1);
    await queue.onIdle();
  });
});

function sleepUntilAborted(ctx: WorkContext, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    ctx.signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(ctx.signal.reason);
      },
      { once: true },
    );
  });
}
