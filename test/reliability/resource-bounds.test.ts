import { createHook } from 'node:async_hooks';
import { getEventListeners, setMaxListeners } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackgroundQueue, QueueFullError, getQueueToken, type BackgroundWorkModuleOptions, type WorkContext, type WorkItem } from 'nestjs-background-work';
import { gate, sleep, startApp, type TestApp } from '../support/create-app.js';

/**
 * Resource bounds: a million calls leave the heap where it started, and no item leaves a timer, a listener or an
 * AbortSignal behind once it has ended.
 *
 * `global.gc` comes from `--expose-gc`. Vitest 4 has no per-file `execArgv` (its `poolOptions` are gone, and
 * `execArgv` is one setting for the whole project), so the flag is set at run time and `gc` taken from a fresh
 * context, which V8 gives the function once the flag is on.
 */
function exposeGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
const gc = exposeGc();

const MB = 1024 * 1024;
/** What a million finished or refused calls may leave on the heap, at most: noise, not a leak (a leak is 100s of MB). */
const HEAP_MARGIN = 10 * MB;
const MILLION = 1_000_000;
const BATCH = 10_000;

function heapUsed(): number {
  // Several passes: the first frees objects whose finalisation frees more.
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
}

function mb(bytes: number): string {
  return `${(bytes / MB).toFixed(2)} MB`;
}

/** Timers that keep the event loop alive (`unref`ed ones are not listed by Node). */
function refTimers(): number {
  return process.getActiveResourcesInfo().filter((type) => type === 'Timeout').length;
}

function listeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

/**
 * Every timer, `unref`ed ones included, that the library creates while enabled: the per-attempt timeout, the retry
 * delay and the warning about work that ignores its signal. Found by where they were created, so the test's own
 * timers and the runner's do not count.
 */
function libraryTimers() {
  const live = new Set<number>();
  let created = 0;
  const hook = createHook({
    init(id, type) {
      if (type !== 'Timeout') return;
      const stack = new Error().stack ?? '';
      if (!/[/\\]lib[/\\]queue[/\\]/.test(stack)) return;
      live.add(id);
      created++;
    },
    destroy(id) {
      live.delete(id);
    },
  });
  const previousLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 30;
  hook.enable();
  return {
    get live() {
      return live.size;
    },
    get created() {
      return created;
    },
    stop() {
      hook.disable();
      Error.stackTraceLimit = previousLimit;
    },
  };
}

/** Work that returns at once. */
const attemptOf = (ctx: WorkContext): number => ctx.attempt;
/** Work that returns on a later microtask, having read its signal (which makes the attempt's AbortController). */
const abortedLater = async (ctx: WorkContext): Promise<boolean> => {
  const { signal } = ctx;
  await Promise.resolve();
  return signal.aborted;
};

let current: TestApp | undefined;
afterEach(async () => {
  await current?.app.close();
  current = undefined;
});

async function appWith(options: BackgroundWorkModuleOptions): Promise<TestApp> {
  current = await startApp(options);
  return current;
}

describe('resource bounds', () => {
  it('1M enqueue calls refused by a full queue leave the heap, the timers and the signal where they were', async () => {
    const { app } = await appWith({ queues: { full: { concurrency: 1, capacity: 1 } } });
    const queue = app.get<BackgroundQueue>(getQueueToken('full'));
    const release = gate();
    queue.enqueue(() => release.promise);
    while (queue.stats().running === 0) await sleep(1);
    queue.enqueue(() => 'waits');
    expect(queue.stats()).toMatchObject({ pending: 1, running: 1 });

    const controller = new AbortController();
    const options = { name: 'refused', timeout: 1_000, retry: 3, signal: controller.signal };
    let refused = 0;
    const attempt = (count: number): void => {
      for (let i = 0; i < count; i++) {
        try {
          queue.enqueue(attemptOf, options);
        } catch (error) {
          if (error instanceof QueueFullError) refused++;
          else throw error;
        }
      }
    };
    attempt(BATCH); // warm-up: compiled code, error shapes
    const timers = refTimers();
    const before = heapUsed();
    refused = 0;
    attempt(MILLION);
    const after = heapUsed();
    console.log(`1M refused enqueue calls: heap ${mb(before)} -> ${mb(after)} (${mb(after - before)})`);

    expect(refused).toBe(MILLION);
    expect(after - before).toBeLessThan(HEAP_MARGIN);
    expect(refTimers()).toBeLessThanOrEqual(timers);
    expect(listeners(controller.signal)).toBe(0); // a refused call never subscribes to the caller's signal
    expect(queue.stats()).toMatchObject({ pending: 1, running: 1, succeeded: 0, failed: 0, cancelled: 0 });
    release.open();
    await queue.onIdle();
  });

  it('1M items run to completion, each with a timeout timer and its own AbortSignal, leave the heap where it started', async () => {
    const { app } = await appWith({ queue: { concurrency: 16, capacity: BATCH, timeout: 60_000 } });
    const queue = app.get(BackgroundQueue);
    // Half return at once; half await and read their signal, so that every attempt has its own AbortController.
    const run = async (count: number): Promise<void> => {
      for (let done = 0; done < count; done += BATCH) {
        for (let i = 0; i < BATCH; i++) queue.enqueue<unknown>(i % 2 === 0 ? attemptOf : abortedLater);
        await queue.onIdle();
      }
    };
    await run(BATCH); // warm-up: compiled code, the queue's ring buffer at its working size
    const timers = refTimers();
    const before = heapUsed();
    const started = performance.now();
    await run(MILLION);
    const elapsed = performance.now() - started;
    const after = heapUsed();
    console.log(`1M items run: ${Math.round(elapsed)} ms, heap ${mb(before)} -> ${mb(after)} (${mb(after - before)})`);

    expect(queue.stats()).toMatchObject({ pending: 0, running: 0, succeeded: MILLION + BATCH, failed: 0, cancelled: 0 });
    expect(after - before).toBeLessThan(HEAP_MARGIN);
    expect(refTimers()).toBeLessThanOrEqual(timers); // every per-item timeout timer was cleared
  });

  it('clears every timeout, retry and late-warning timer and every listener on the caller signal, whatever the item does', async () => {
    const { app, logger } = await appWith({
      queue: { concurrency: 64, capacity: Infinity, timeout: 20, retry: { attempts: 3, backoff: 'fixed', delay: 1 } },
    });
    const queue = app.get(BackgroundQueue);
    const caller = new AbortController();
    setMaxListeners(0, caller.signal);
    const timers = refTimers();
    const tracked = libraryTimers();
    try {
      const N = 4_000;
      const items = [];
      for (let i = 0; i < N; i++) {
        const kind = i % 5;
        const item = queue.enqueue(
          async (ctx) => {
            if (kind === 1 && ctx.attempt === 1) throw new Error('fails once'); // a retry timer
            if (kind === 2 && ctx.attempt === 1) await sleep(40); // times out ignoring its signal: the late-warning timer
            if (kind === 3) {
              // honours its signal: times out on every attempt and fails
              await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
            }
            if (kind === 4) await sleep(5);
            return kind;
          },
          // Only kinds 2 and 3 are meant to time out: the others get room enough for a loaded machine.
          { name: `kind ${kind}`, signal: caller.signal, timeout: kind === 2 || kind === 3 ? 20 : 2_000 },
        );
        items.push(item);
      }
      expect(listeners(caller.signal)).toBe(1); // one listener per queue, however many items share the signal
      // Every tenth item of kind 4 is cancelled, once the first ones are running: some running, most pending.
      while (queue.stats().running === 0) await sleep(1);
      let cancelled = 0;
      for (let i = 4; i < N; i += 50) if (items[i].cancel('not needed')) cancelled++;
      expect(cancelled).toBeGreaterThan(0);
      await queue.onIdle();

      // Items of kind 2 were abandoned at their timeout and return 20 ms later: then their last timer goes too.
      await vi.waitFor(() => expect(tracked.live).toBe(0), { timeout: 5_000, interval: 20 });
      await sleep(10); // async_hooks reports a cleared timer's destroy on a later turn
      expect(tracked.live).toBe(0);
      expect(tracked.created).toBeGreaterThan(N); // the hook did see the library's timers
      expect(refTimers()).toBeLessThanOrEqual(timers);
      expect(listeners(caller.signal)).toBe(0);

      const stats = queue.stats();
      expect(stats.failed).toBe(N / 5); // kind 3
      expect(stats.cancelled).toBe(cancelled);
      expect(stats.succeeded).toBe(N - N / 5 - cancelled);
      expect(logger.messages('warn').filter((m) => m.includes('ignores its aborted signal'))).toEqual([]);
    } finally {
      tracked.stop();
    }
  });

  it('removes its listeners from a signal shared by many items, waiters and refusals, however they end', async () => {
    const { app } = await appWith({ queue: { concurrency: 8, capacity: 100 } });
    const queue = app.get(BackgroundQueue);
    const shared = new AbortController();
    setMaxListeners(0, shared.signal);
    const signal = shared.signal;

    // 1. Items that succeed, fail and are cancelled one by one.
    const release = gate();
    const items = Array.from({ length: 100 }, (_, i) =>
      queue.enqueue(
        async () => {
          await release.promise;
          if (i % 3 === 0) throw new Error('fails');
          return i;
        },
        { signal },
      ),
    );
    expect(listeners(signal)).toBe(1); // the queue listens once for all its items
    for (let i = 1; i < 100; i += 10) items[i].cancel();
    expect(listeners(signal)).toBe(1);
    // 2. Callers waiting for room in enqueueAsync hold a listener each until they are admitted.
    const waiting = Array.from({ length: 1_000 }, () => queue.enqueueAsync(() => 'admitted later', { signal }));
    // Cancelling 10 items made room for the first 10 callers: they are items now, on the queue's one listener.
    expect(listeners(signal)).toBe(1 + 990);
    // 3. A refused enqueue does not subscribe.
    expect(() => queue.enqueue(() => 'refused', { signal })).toThrow(QueueFullError);
    expect(listeners(signal)).toBe(1 + 990);
    release.open();
    const admitted = await Promise.all(waiting);
    await queue.onIdle();
    expect(admitted.every((item) => item.state === 'succeeded')).toBe(true);
    expect(listeners(signal)).toBe(0);

    // 4. The shared signal aborts while items are pending and running and callers are waiting: all end, none listens.
    const hold = gate();
    try {
      const held = Array.from({ length: 100 }, () => queue.enqueue(() => hold.promise, { signal }));
      const callers = Array.from({ length: 500 }, () => queue.enqueueAsync(() => hold.promise, { signal }).catch((error: unknown) => error));
      while (queue.stats().running < 8) await sleep(1); // 8 running; as they started, 8 waiting callers were admitted
      expect(listeners(signal)).toBe(1 + 492);
      shared.abort(new Error('caller gave up'));
      expect(listeners(signal)).toBe(0);
      // Every waiting caller is rejected with the signal's reason, even one that the same abort made room for (by
      // cancelling an item ahead of it) before its own listener ran.
      const outcomes = await Promise.all(callers);
      const reasons = outcomes.filter((outcome): outcome is Error => outcome instanceof Error);
      expect(reasons).toHaveLength(492);
      expect(reasons.every((reason) => reason.message === 'caller gave up')).toBe(true);
      expect(outcomes.filter((outcome) => !(outcome instanceof Error)).every((item) => (item as WorkItem).state === 'cancelled')).toBe(true);
      expect(held.every((item) => item.state === 'cancelled')).toBe(true);
    } finally {
      hold.open();
    }
    await queue.onIdle();
    expect(queue.stats()).toMatchObject({ pending: 0, running: 0 });
  });

  it('cancels the retry timers of items still waiting to retry when shutdown reaches its deadline', async () => {
    const timers = refTimers();
    const { app } = await appWith({ shutdownTimeout: 100, queue: { retry: { attempts: 5, backoff: 'fixed', delay: 60_000 } } });
    const queue = app.get(BackgroundQueue);
    const caller = new AbortController();
    setMaxListeners(0, caller.signal);
    const items = Array.from({ length: 1_000 }, () =>
      queue.enqueue(
        () => {
          throw new Error('fails, then waits a minute to retry');
        },
        { signal: caller.signal },
      ),
    );
    await vi.waitFor(() => expect(items.every((item) => item.attempt === 1 && item.state === 'pending')).toBe(true));
    expect(refTimers()).toBeGreaterThanOrEqual(1_000); // one retry timer per item
    await app.close();
    current = undefined;
    expect(items.every((item) => item.state === 'cancelled')).toBe(true);
    expect(refTimers()).toBeLessThanOrEqual(timers);
    expect(listeners(caller.signal)).toBe(0);
  });
});
