import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundQueue, BackgroundWorkModule, TimeoutError, WorkerThreads } from 'nestjs-background-work';
import spin from './tasks/spin.task.js';
import { sleep, startApp, type TestApp } from '../support/create-app.js';

const DOUBLE = new URL('./tasks/double.task.js', import.meta.url);
const FAIL = new URL('./tasks/fail.task.js', import.meta.url);
const SPIN = new URL('./tasks/spin.task.js', import.meta.url);
const TRANSFER = new URL('./tasks/transfer.task.js', import.meta.url);
const CHUNKS = new URL('./tasks/chunks.task.js', import.meta.url);

let current: TestApp | undefined;
afterEach(async () => {
  await current?.app.close();
  current = undefined;
});

async function threadsOf(options: Parameters<typeof startApp>[0] = {}): Promise<WorkerThreads> {
  current = await startApp({ threads: { maxThreads: 2, minThreads: 0 }, ...options });
  return current.app.get(WorkerThreads);
}

describe('WorkerThreads', () => {
  it('runs the default export or a named one, sync or async, from a TypeScript task file under the test runner', async () => {
    const threads = await threadsOf();
    await expect(threads.run(DOUBLE, { n: 21 })).resolves.toBe(42);
    await expect(threads.run(DOUBLE, { n: 5 }, { name: 'square' })).resolves.toBe(25);
    // a path string and a file URL string name the same task
    await expect(threads.run(fileURLToPath(DOUBLE), { n: 1 })).resolves.toBe(2);
    await expect(threads.run(DOUBLE.href, { n: 2 })).resolves.toBe(4);
    expect(threads.stats()).toMatchObject({ completed: 4, queued: 0, running: 0 });
    expect(threads.stats().threads).toBeGreaterThan(0);
    expect(threads.stats().runTime.p50).toBeGreaterThanOrEqual(0);
  });

  it('runs a CommonJS task file as TypeScript compiles it (exports.default), default and named exports', async () => {
    const threads = await threadsOf();
    const legacy = new URL('./tasks/legacy.task.cjs', import.meta.url);
    await expect(threads.run(legacy, { n: 41 })).resolves.toBe(42);
    await expect(threads.run(legacy, { n: 5 }, { name: 'triple' })).resolves.toBe(15);
  });

  it("brings a task's error back with its name, message, properties and stack", async () => {
    const threads = await threadsOf();
    const custom = await threads.run(FAIL, { kind: 'custom' }).catch((e: unknown) => e);
    expect(custom).toBeInstanceOf(Error);
    expect(custom).toMatchObject({ name: 'ValidationError', message: 'width must be positive', code: 'E_WIDTH' });
    expect((custom as Error).stack).toContain('fail.task.ts');
    const range = await threads.run(FAIL, { kind: 'range' }).catch((e: unknown) => e);
    expect(range).toMatchObject({ name: 'RangeError', message: 'out of range' });
    await expect(threads.run(FAIL, { kind: 'string' })).rejects.toBe('a plain string');
    await expect(threads.run(DOUBLE, {}, { name: 'nothing' })).rejects.toThrow('has no export named "nothing" that is a function');
  });

  it('aborting a queued task removes it; aborting a running one terminates its thread', async () => {
    const threads = await threadsOf({ threads: { maxThreads: 1, minThreads: 0 } });
    const busy = threads.run(SPIN, { ms: 300 });
    const controller = new AbortController();
    const queued = threads.run(SPIN, { ms: 300 }, { signal: controller.signal });
    controller.abort(new Error('no longer needed'));
    await expect(queued).rejects.toThrow('no longer needed');
    await expect(busy).resolves.toBeGreaterThan(0);

    const running = new AbortController();
    const endless = threads.run(SPIN, {}, { name: 'forever', signal: running.signal });
    await sleep(200);
    running.abort(new Error('stop spinning'));
    await expect(endless).rejects.toThrow('stop spinning');
    // the pool replaced the terminated thread and goes on
    await expect(threads.run(DOUBLE, { n: 4 })).resolves.toBe(8);
  });

  it('moves transferables instead of copying them', async () => {
    const threads = await threadsOf();
    const buffer = new Uint8Array([1, 2, 3, 4]).buffer;
    await expect(threads.run(TRANSFER, { buffer }, { transfer: [buffer] })).resolves.toBe(10);
    expect(buffer.byteLength).toBe(0); // detached: it went to the thread
  });

  it('delivers a task\'s progress before run() settles, and moves returned bytes back', async () => {
    const threads = await threadsOf();
    const seen: number[] = [];
    const bytes = await threads.run<{ count: number; size: number }, Uint8Array>(CHUNKS, { count: 8, size: 1024 }, { progress: (v) => seen.push(v) });
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((i) => i / 8));
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(bytes.byteLength).toBe(8 * 1024);
    expect(bytes[0]).toBe(1);
    expect(bytes[8 * 1024 - 1]).toBe(8);
    // without a callback, progress() is accepted and goes nowhere
    await expect(threads.run(CHUNKS, { count: 2, size: 4 })).resolves.toHaveLength(8);
    await expect(threads.run(CHUNKS, {}, { name: 'badProgress', progress: () => {} })).rejects.toThrow('progress() takes a finite number, got NaN');
    expect(() => threads.run(CHUNKS, {}, { progress: 5 as never })).toThrow('WorkerThreads.run options.progress must be a function, got 5');
  });

  it('feeds a work item\'s progress from its thread task', async () => {
    current = await startApp({ threads: { maxThreads: 1, minThreads: 0 } });
    const threads = current.app.get(WorkerThreads);
    const queue = current.app.get(BackgroundQueue);
    const seen: number[] = [];
    const subscription = queue.events$.subscribe((e) => e.type === 'progress' && seen.push(e.value));
    const item = queue.enqueue(({ signal, progress }) => threads.run(CHUNKS, { count: 4, size: 16 }, { signal, progress }));
    await item.result;
    subscription.unsubscribe();
    expect(seen).toEqual([0.25, 0.5, 0.75, 1]);
    expect(item.progress).toBe(1);
  });

  it("cuts thread work off at the queue's timeout, like any other item", async () => {
    current = await startApp({ threads: { maxThreads: 1, minThreads: 0 }, queue: { timeout: 200 } });
    const threads = current.app.get(WorkerThreads);
    const queue = current.app.get(BackgroundQueue);
    const item = queue.enqueue(({ signal }) => threads.run(SPIN, {}, { name: 'forever', signal }), { name: 'endless-render' });
    await expect(item.result).rejects.toBeInstanceOf(TimeoutError);
    // The pool replaces the terminated thread; its start-up is not what this test bounds.
    await expect(queue.enqueue(({ signal }) => threads.run(DOUBLE, { n: 3 }, { signal }), { timeout: 30_000 }).result).resolves.toBe(6);
  });

  it('keeps the event loop serving while CPU-heavy tasks run, unlike the same work inline', async () => {
    const threads = await threadsOf();
    await threads.run(SPIN, { ms: 1 }); // warm the pool
    const jobs = 4;
    const ms = 150;

    const inline = await countTicksDuring(async () => {
      for (let i = 0; i < jobs; i++) {
        spin({ ms });
        await Promise.resolve();
      }
    });
    const onThreads = await countTicksDuring(() => Promise.all(Array.from({ length: jobs }, () => threads.run(SPIN, { ms }))));
    console.log(
      `event loop during ${jobs} x ${ms} ms of CPU work: inline ${inline.ticks} timer ticks, delay p50 ${inline.p50} ms p99 ${inline.p99} ms; ` +
        `on threads ${onThreads.ticks} ticks, delay p50 ${onThreads.p50} ms p99 ${onThreads.p99} ms`,
    );
    expect(onThreads.ticks).toBeGreaterThanOrEqual(10 * Math.max(inline.ticks, 1));
  });

  it('rejects bad task references and options at the call site', async () => {
    const threads = await threadsOf();
    expect(() => threads.run('./tasks/double.task.js', {})).toThrow(TypeError);
    expect(() => threads.run('./tasks/double.task.js', {})).toThrow('must be a URL, a file URL or an absolute path');
    expect(() => threads.run(new URL('./tasks/missing.task.js', import.meta.url), {})).toThrow('no task file at');
    expect(() => threads.run(new URL('https://example.com/task.js'), {})).toThrow('must be a file: URL');
    expect(() => threads.run(DOUBLE, {}, { signal: 'soon' as never })).toThrow('WorkerThreads.run options.signal must be an AbortSignal');
    expect(() => threads.run(DOUBLE, {}, { name: '' })).toThrow('WorkerThreads.run options.name must be a non-empty string');
    expect(() => threads.run(DOUBLE, {}, { transfer: 'x' as never })).toThrow('options.transfer must be an array');
    expect(() => threads.run(DOUBLE, {}, { timeout: 5 } as never)).toThrow('unknown option "timeout"');
  });

  it.each([
    [{ maxThreads: 0 }, 'options.threads.maxThreads must be an integer >= 1, got 0'],
    [{ minThreads: 3, maxThreads: 2 }, 'options.threads.minThreads (3) must not be greater than maxThreads (2)'],
    [{ idleTimeout: -1 }, 'options.threads.idleTimeout must be an integer from 0 to 2147483647 or Infinity, got -1'],
    [{ maxQueue: 'lots' }, "options.threads.maxQueue must be 'auto', got \"lots\""],
    [{ resourceLimits: { heap: 5 } }, 'options.threads.resourceLimits has an unknown option "heap"'],
    [{ resourceLimits: { maxOldGenerationSizeMb: 0 } }, 'options.threads.resourceLimits.maxOldGenerationSizeMb must be an integer >= 1, got 0'],
    [true, 'options.threads must be an object, got true'],
  ])('rejects threads option %j at module creation', (threads, message) => {
    expect(() => BackgroundWorkModule.forRoot({ threads: threads as never })).toThrow(message);
  });

  it('is off with threads: false, and says so where it is called', async () => {
    const threads = await threadsOf({ threads: false });
    expect(() => threads.run(DOUBLE, { n: 1 })).toThrow('Worker threads are off: BackgroundWorkModule was configured with threads: false');
    expect(threads.stats()).toMatchObject({ threads: 0, completed: 0 });
  });
});

describe('WorkerThreads at shutdown', () => {
  it('closes after the queues drain: thread work in flight finishes', async () => {
    current = await startApp({ threads: { maxThreads: 2, minThreads: 0 } });
    const { app } = current;
    const threads = app.get(WorkerThreads);
    const queue = app.get(BackgroundQueue);
    const items = [1, 2, 3].map((n) => queue.enqueue(({ signal }) => threads.run<{ n: number }, number>(DOUBLE, { n }, { signal })));
    const direct = threads.run(SPIN, { ms: 100 });
    await app.close();
    current = undefined;
    expect(items.map((i) => i.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    await expect(direct).resolves.toBeGreaterThan(0);
    await expect(threads.run(DOUBLE, { n: 1 })).rejects.toThrow('Worker threads are closed');
  });

  it('at the deadline terminates thread tasks and names them, queued through a queue or not', async () => {
    current = await startApp({ shutdownTimeout: 300, threads: { maxThreads: 2, minThreads: 0 } });
    const { app, logger } = current;
    const threads = app.get(WorkerThreads);
    const queue = app.get(BackgroundQueue);
    const item = queue.enqueue(({ signal }) => threads.run(SPIN, {}, { name: 'forever', signal }), { name: 'endless-pdf' });
    const direct = threads.run(SPIN, {}, { name: 'forever' });
    direct.catch(() => undefined);
    await sleep(100);
    const began = Date.now();
    await app.close();
    current = undefined;
    expect(Date.now() - began).toBeLessThan(10_000);
    expect(item.state).toBe('cancelled');
    await expect(direct).rejects.toBeDefined();
    expect(logger.messages('warn').join('\n')).toContain(`1 running item cancelled at the shutdown deadline, their signals aborted: #${item.id} "endless-pdf"`);
    expect(logger.messages('error')).toContain('Worker threads: 1 task still in flight at the shutdown deadline were terminated: spin.task.ts#forever');
  });
});

const ms = (ns: number): number => Math.round(ns / 1e5) / 10;

/** Counts 1 ms timer callbacks and samples event-loop delay while `work` runs. */
async function countTicksDuring(work: () => Promise<unknown>): Promise<{ ticks: number; p50: number; p99: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  let ticks = 0;
  let running = true;
  const tick = (): void => {
    ticks++;
    if (running) setTimeout(tick, 1);
  };
  histogram.enable();
  setTimeout(tick, 1);
  await work();
  running = false;
  await new Promise((resolve) => setTimeout(resolve, 20)); // let a sample delayed by blocking work land
  histogram.disable();
  return { ticks, p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)) };
}
