import { Inject, Injectable, Scope, type Provider } from '@nestjs/common';
import { REQUEST } from '@nestjs/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BackgroundJobs,
  BackgroundQueue,
  BackgroundWorkModule,
  Job,
  memoryStore,
  type BackgroundWorkModuleOptions,
  type JobContext,
  type JobEvent,
  type JobHandler,
  type JobRecord,
} from 'nestjs-background-work';
import { createApp, gate, sleep, startApp, type TestApp } from '../support/create-app.js';
import { STORE_CASES, tempFolder, type StoreCase } from '../support/stores.js';

const log: string[] = [];

@Job('echo')
class Echo implements JobHandler<{ text: string }, string> {
  run(payload: { text: string }, ctx: JobContext): string {
    log.push(`${payload.text}@${ctx.attempt}`);
    return payload.text.toUpperCase();
  }
}

let flaky = 0;
@Job('flaky', { retry: { attempts: 3, delay: 10 } })
class Flaky implements JobHandler<{ failures: number }> {
  run(payload: { failures: number }): string {
    if (flaky++ < payload.failures) throw new Error(`boom ${flaky}`);
    return 'ok';
  }
}

const held = new Map<string, { promise: Promise<void>; open: () => void }>();
/** Set while a test's app closes: held jobs that start during the drain finish at once. */
let releasing = false;
@Job('held', { queue: 'slow' })
class Held implements JobHandler<{ id: string }> {
  async run(payload: { id: string }, ctx: JobContext): Promise<void> {
    log.push(`start ${payload.id}`);
    const g = gate();
    held.set(payload.id, g);
    if (releasing) g.open();
    ctx.signal.addEventListener('abort', () => g.open());
    await g.promise;
    ctx.signal.throwIfAborted();
    log.push(`end ${payload.id}`);
  }
}

let scopedCount = 0;
@Injectable({ scope: Scope.REQUEST })
class PerJob {
  readonly n = ++scopedCount;
  constructor(@Inject(REQUEST) readonly job: JobRecord) {}
}

@Job('scoped')
class Scoped implements JobHandler<unknown, { n: number; id: string }> {
  constructor(private readonly perJob: PerJob) {}
  run(): { n: number; id: string } {
    return { n: this.perJob.n, id: this.perJob.job.id };
  }
}

@Job('throws-non-error')
class ThrowsNonError implements JobHandler {
  run(): never {
    throw { code: 42 }; // oxlint-disable-line no-throw-literal -- the point of the test
  }
}

@Job('never-settles', { timeout: 100 })
class NeverSettles implements JobHandler {
  run(): Promise<never> {
    return new Promise(() => {});
  }
}

// 'idle' has no handler in this process: nothing fetches its jobs, on any store.
const options: BackgroundWorkModuleOptions = { queues: { slow: { concurrency: 1 }, idle: {} } };
const providers: Provider[] = [Echo, Flaky, Held, PerJob, Scoped, ThrowsNonError, NeverSettles];
let current: TestApp | undefined;
let storeCase: StoreCase = STORE_CASES[0];
let folder: ReturnType<typeof tempFolder> | undefined;

async function start(extra: BackgroundWorkModuleOptions = {}): Promise<{ jobs: BackgroundJobs; t: TestApp }> {
  folder ??= tempFolder();
  current = await startApp({ ...options, store: storeCase.make(folder.dir), ...extra }, providers);
  return { jobs: current.app.get(BackgroundJobs), t: current };
}

afterEach(async () => {
  releasing = true;
  for (const g of held.values()) g.open();
  await current?.app.close();
  releasing = false;
  held.clear();
  if (folder !== undefined) await storeCase.cleanup?.(folder.dir);
  folder?.cleanup();
  folder = undefined;
  storeCase = STORE_CASES[0];
  current = undefined;
  log.length = 0;
  flaky = 0;
});

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/*
 * Cases that differ by design on bullmqStore (store.delivers):
 * - A job name that no handler of this process runs, on a queue that has handlers here: BullMQ's Worker fetches
 *   every job of its queue, so such a job goes back as delayed (`scheduled`) for a few seconds at a time, for a
 *   process that has its handler, instead of staying `pending`. On a queue with no handlers here ('idle') nothing
 *   fetches it and it stays pending, as on every store: the listing cases use that queue.
 */
describe.each(STORE_CASES)('BackgroundJobs on $label', (store) => {
  beforeEach(() => {
    storeCase = store;
  });

  it('enqueues by class and by name, runs the handler, and keeps the result', async () => {
    const { jobs } = await start();
    const a = await jobs.enqueue(Echo, { text: 'a' });
    const b = await jobs.enqueue('echo', { text: 'b' });
    expect(a).toMatchObject({ name: 'echo', queue: 'default', state: 'pending', payload: { text: 'a' }, attempts: 0, maxAttempts: 1 });
    expect(a.id < b.id).toBe(true);
    await jobs.onIdle();
    expect(await jobs.get(a.id)).toMatchObject({ state: 'succeeded', result: 'A', attempts: 1 });
    expect(await jobs.get(b.id)).toMatchObject({ state: 'succeeded', result: 'B' });
    expect(log).toEqual(['a@1', 'b@1']);
    expect(await jobs.stats()).toMatchObject({ succeeded: 2, pending: 0, running: 0 });
  });

  it('retries per the @Job policy, keeping each error', async () => {
    const { jobs } = await start();
    const job = await jobs.enqueue(Flaky, { failures: 2 });
    await until(async () => (await jobs.get(job.id))?.state === 'succeeded', 'the third attempt');
    const done = (await jobs.get(job.id))!;
    expect(done).toMatchObject({ attempts: 3, maxAttempts: 3, result: 'ok' });
    expect(done.errors.map((e) => [e.attempt, e.message])).toEqual([
      [1, 'boom 1'],
      [2, 'boom 2'],
    ]);
  });

  it('fails after the last attempt, and retry() runs it again from attempt 1', async () => {
    const { jobs, t } = await start();
    const job = await jobs.enqueue(Flaky, { failures: 5 });
    await until(async () => (await jobs.get(job.id))?.state === 'failed', 'the failure');
    expect((await jobs.get(job.id))!.errors).toHaveLength(3);
    expect(t.logger.messages('error').some((l) => l.includes(job.id) && l.includes('failed after 3 attempts'))).toBe(true);
    flaky = 5;
    expect(await jobs.retry(job.id)).toBe(true);
    await until(async () => (await jobs.get(job.id))?.state === 'succeeded', 'the retried run');
    expect((await jobs.get(job.id))!.attempts).toBe(1);
    expect(await jobs.retry(job.id)).toBe(false);
  });

  it('keeps a thrown non-Error as the job’s error, and fails a handler that never settles at its timeout', async () => {
    // The never-settling function keeps its slot until the drain gives up on it: a short deadline for the close.
    const { jobs } = await start({ shutdownTimeout: 500 });
    const odd = await jobs.enqueue(ThrowsNonError, {});
    const stuck = await jobs.enqueue(NeverSettles, {});
    await until(async () => (await jobs.get(odd.id))?.state === 'failed' && (await jobs.get(stuck.id))?.state === 'failed', 'both failures');
    expect((await jobs.get(odd.id))!.errors).toMatchObject([{ attempt: 1, name: 'NonError', message: '{"code":42}' }]);
    expect((await jobs.get(stuck.id))!.errors).toMatchObject([{ attempt: 1, name: 'TimeoutError' }]);
  });

  it('returns the active job for a key instead of adding one', async () => {
    const { jobs } = await start();
    const first = await jobs.enqueue(Held, { id: 'k1' }, { key: 'user-1' });
    const again = await jobs.enqueue(Held, { id: 'k2' }, { key: 'user-1' });
    expect(again.id).toBe(first.id);
    expect(await jobs.list({ name: 'held' })).toHaveLength(1);
  });

  it('shares the queue slots with closures, and runs higher priority first', async () => {
    const { jobs, t } = await start();
    const queue = t.app.get(BackgroundQueue);
    const blocker = gate();
    queue.enqueue(() => blocker.promise);
    await jobs.enqueueMany([
      { job: Echo, payload: { text: 'low' } },
      { job: Echo, payload: { text: 'high' }, options: { priority: 5 } },
    ]);
    // concurrency 4: the closure holds one slot, the jobs take two more.
    await until(() => log.length === 2, 'both jobs to run beside the closure');
    expect(log.toSorted()).toEqual(['high@1', 'low@1']);
    blocker.open();
    await jobs.enqueue(Held, { id: 'p0' });
    await until(() => held.has('p0'), 'the first slow job');
    await jobs.enqueue(Held, { id: 'p1' });
    await jobs.enqueue(Held, { id: 'p2' }, { priority: 10 });
    held.get('p0')!.open();
    await until(() => log.includes('start p2'), 'the high-priority slow job');
    expect(log.filter((l) => l.startsWith('start'))).toEqual(['start p0', 'start p2']);
  });

  it('runs a job on the queue that its enqueue names, in that queue’s slots', async () => {
    const { jobs } = await start();
    await jobs.enqueue(Held, { id: 'q0' });
    await until(() => held.has('q0'), 'the slow queue’s one slot taken');
    // Echo's @Job names no queue; this one runs on "slow" (concurrency 1), which none of Echo's jobs use otherwise.
    const moved = await jobs.enqueue(Echo, { text: 'moved' }, { queue: 'slow' });
    expect(moved.queue).toBe('slow');
    await sleep(50);
    expect(log).not.toContain('moved@1');
    held.get('q0')!.open();
    await until(async () => (await jobs.get(moved.id))?.state === 'succeeded', 'the job moved to the slow queue');
    expect(log).toContain('moved@1');
  });

  it('cancels a pending job and a running one (no retry), and says false for an ended one', async () => {
    const { jobs } = await start();
    const running = await jobs.enqueue(Held, { id: 'c1' });
    const pending = await jobs.enqueue(Held, { id: 'c2' });
    await until(() => held.has('c1'), 'the running job');
    expect(await jobs.cancel(pending.id, 'not needed')).toBe(true);
    expect(await jobs.get(pending.id)).toMatchObject({ state: 'cancelled' });
    expect(await jobs.cancel(running.id)).toBe(true);
    await until(async () => (await jobs.get(running.id))?.state === 'cancelled', 'the running job to end');
    expect(await jobs.cancel(running.id)).toBe(false);
    expect(await jobs.cancel('no-such-id')).toBe(false);
    expect(log).not.toContain('start c2');
  });

  it('runs a delayed job once it is due', async () => {
    const { jobs } = await start();
    const job = await jobs.enqueue(Echo, { text: 'later' }, { delay: 150 });
    expect(job.state).toBe('scheduled');
    await sleep(50);
    expect(log).toEqual([]);
    await until(async () => (await jobs.get(job.id))?.state === 'succeeded', 'the delayed job');
    expect((await jobs.get(job.id))!.startedAt!.getTime()).toBeGreaterThanOrEqual(job.runAt.getTime());
  });

  it('gives a request-scoped handler a fresh instance per job, with the job as its REQUEST', async () => {
    const { jobs } = await start();
    const a = await jobs.enqueue(Scoped, {});
    const b = await jobs.enqueue(Scoped, {});
    await jobs.onIdle();
    const ra = (await jobs.get(a.id))!.result as { n: number; id: string };
    const rb = (await jobs.get(b.id))!.result as { n: number; id: string };
    expect(ra.id).toBe(a.id);
    expect(rb.id).toBe(b.id);
    expect(ra.n).not.toBe(rb.n);
  });

  it('emits events through a job’s life', async () => {
    const { jobs } = await start();
    const events: JobEvent[] = [];
    const sub = jobs.events$.subscribe((e) => events.push(e));
    const job = await jobs.enqueue(Flaky, { failures: 1 });
    await until(() => events.some((e) => e.type === 'succeeded'), 'success');
    sub.unsubscribe();
    expect(events.filter((e) => e.id === job.id).map((e) => e.type)).toEqual(['enqueued', 'started', 'retrying', 'started', 'succeeded']);
  });

  it('lists by state and queue, paged with after', async () => {
    const { jobs } = await start();
    // Due in a minute: no queue runs them during the test, whichever store (a BullMQ worker fetches only due jobs).
    const later = { queue: 'idle', delay: 60_000 };
    const made = await jobs.enqueueMany(Array.from({ length: 5 }, (_, i) => ({ job: 'nobody-handles', payload: { i }, options: later })));
    const page1 = await jobs.list({ state: 'scheduled', limit: 2 });
    const page2 = await jobs.list({ state: ['scheduled'], limit: 2, after: page1.at(-1)!.id });
    expect([...page1, ...page2].map((j) => j.id)).toEqual(made.slice(0, 4).map((j) => j.id));
    expect(await jobs.list({ queue: 'slow' })).toEqual([]);
  });

  it('lists newest first and by key, paged by the store', async () => {
    const { jobs } = await start();
    const keys = ['a', undefined, undefined, 'b', undefined];
    const later = { queue: 'idle', delay: 60_000 };
    const made = await jobs.enqueueMany(keys.map((key, i) => ({ job: 'nobody-handles', payload: { i }, options: key === undefined ? later : { key, ...later } })));
    const ids = made.map((j) => j.id);
    const page1 = await jobs.list({ order: 'desc', limit: 2 });
    const page2 = await jobs.list({ order: 'desc', limit: 2, after: page1.at(-1)!.id });
    expect([...page1, ...page2].map((j) => j.id)).toEqual(ids.toReversed().slice(0, 4));
    expect((await jobs.list({ key: 'b' })).map((j) => j.id)).toEqual([ids[3]]);
    expect((await jobs.list({ key: 'a', order: 'desc', state: 'scheduled' })).map((j) => j.payload)).toEqual([{ i: 0 }]);
    expect(await jobs.list({ key: 'a', state: 'failed' })).toEqual([]);
  });

  it('warns once for a job name no handler of this process runs, and leaves it pending', async () => {
    const { jobs, t } = await start();
    await jobs.enqueue('nobody-handles', {});
    await jobs.enqueue('nobody-handles', {});
    await sleep(30);
    expect(t.logger.messages('warn').filter((l) => l.includes('"nobody-handles"'))).toHaveLength(1);
    // Differs by design on bullmqStore (see above): this process's Worker fetched them and gave them back delayed.
    const state = store.delivers ? 'scheduled' : 'pending';
    await until(async () => (await jobs.stats())[state] === 2, `both ${state}`);
    expect((await jobs.list({ name: 'nobody-handles' })).map((j) => [j.state, j.attempts])).toEqual([
      [state, 0],
      [state, 0],
    ]);
    // The same on a queue that no @Job names: every queue looks for the jobs this process handles, no others.
    await jobs.enqueue('nobody-handles', {}, { queue: 'idle' });
    await until(async () => (await jobs.stats('idle'))[state] === 1, `the idle queue's job ${state}`);
  });

  it('at shutdown drains pending jobs of a memory store like queue items, and keeps those of a durable store for the next start', async () => {
    const { jobs, t } = await start({ shutdownTimeout: 5_000 });
    await jobs.enqueue(Held, { id: 'r0' });
    await until(() => held.has('r0'), 'the running job');
    await jobs.enqueueMany([1, 2].map((i) => ({ job: Held, payload: { id: `r${i}` } })));
    // r0 finishes once the queue has closed to new work, while r1 and r2 are pending.
    const closing = t.app.close();
    await until(() => t.logger.messages('log').some((l) => l.startsWith('Draining queue "slow"')), 'the drain');
    releasing = true; // memory: r1 and r2 run in the drain and finish at once
    held.get('r0')!.open();
    await closing;
    current = undefined;
    releasing = false;
    const all = ['end r0', 'end r1', 'end r2'];
    expect(log.filter((l) => l.startsWith('end')).toSorted()).toEqual(store.durable ? ['end r0'] : all);
    releasing = true;
    const again = await start();
    await again.jobs.onIdle();
    expect(log.filter((l) => l.startsWith('end')).toSorted()).toEqual(['end r0', 'end r1', 'end r2']);
  });
});

describe('BackgroundJobs bad input', () => {
  it('names the path of a payload that JSON would change', async () => {
    const { jobs } = await start();
    await expect(jobs.enqueue(Echo, { text: 'x', user: { createdAt: new Date() } } as never)).rejects.toThrow(
      new TypeError('payload.user.createdAt: a Date; pass toISOString()'),
    );
    for (const [value, text] of [
      [() => 1, 'payload.v: a function'],
      [undefined, 'payload.v: undefined'],
      [Symbol('s'), 'payload.v: a symbol'],
      [10n, 'payload.v: a BigInt'],
      [Number.NaN, 'payload.v: NaN'],
      [Infinity, 'payload.v: Infinity'],
      [new Map(), 'payload.v: a Map'],
      [new Set(), 'payload.v: a Set'],
      [new (class Money {})(), 'payload.v: an instance of Money'],
    ] as const) {
      await expect(jobs.enqueue('echo', { v: value })).rejects.toThrow(text);
    }
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    await expect(jobs.enqueue('echo', cycle)).rejects.toThrow('payload.self: a cycle');
    await expect(jobs.enqueue('echo', { big: 'x'.repeat(1_100_000) })).rejects.toThrow(RangeError);
  });

  it('rejects bad options, a class that is not a @Job, and an unknown queue', async () => {
    const { jobs } = await start();
    class Plain {}
    await expect(jobs.enqueue(Plain as never, {})).rejects.toThrow(/Plain is not a @Job class/);
    await expect(jobs.enqueue('echo', {}, { colour: 'red' } as never)).rejects.toThrow(/unknown option "colour"/);
    await expect(jobs.enqueue('echo', {}, { runAt: new Date('nope') })).rejects.toThrow(/runAt must be a valid Date/);
    await expect(jobs.enqueue('echo', {}, { delay: -1 })).rejects.toThrow(RangeError);
    await expect(jobs.enqueue('echo', {}, { priority: 1.5 })).rejects.toThrow(/priority/);
    await expect(jobs.enqueue('echo', {}, { key: '' })).rejects.toThrow(/key/);
    await expect(jobs.enqueue('echo', {}, { queue: 'nope' })).rejects.toThrow(/No queue named "nope"/);
    await expect(jobs.enqueueMany([{ job: Echo, payload: { text: 'ok' } }, { job: Echo, payload: { d: new Date() } }])).rejects.toThrow(
      'payload.d: a Date',
    );
    expect(await jobs.stats()).toMatchObject({ pending: 0, succeeded: 0 });
    await expect(jobs.list({ state: 'nope' as never })).rejects.toThrow(RangeError);
    await expect(jobs.list({ limit: 5000 })).rejects.toThrow(RangeError);
  });

  it('fails bootstrap for two @Job classes with one name, naming both', async () => {
    @Job('echo')
    class EchoTwo {
      run(): void {}
    }
    const t = await createApp({ store: memoryStore() }, [Echo, EchoTwo]);
    await expect(t.app.init()).rejects.toThrow('Two @Job classes handle the job "echo": Echo and EchoTwo');
    await t.app.close().catch(() => undefined);
  });

  it('fails bootstrap for a @Job without run() or with a bad option, naming the class', async () => {
    @Job('norun')
    class NoRun {}
    const a = await createApp({ store: memoryStore() }, [NoRun]);
    await expect(a.app.init()).rejects.toThrow('@Job on NoRun must have a run(payload, context) method');
    await a.app.close().catch(() => undefined);
    @Job('badretry', { retry: 0 })
    class BadRetry {
      run(): void {}
    }
    const b = await createApp({ store: memoryStore() }, [BadRetry]);
    await expect(b.app.init()).rejects.toThrow('@Job("badretry") on BadRetry options.retry');
    await b.app.close().catch(() => undefined);
  });

  it('rejects a store option that is not a store', () => {
    expect(() => BackgroundWorkModule.forRoot({ store: {} as never })).toThrow(/store must be a job store/);
  });
});
