import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { JobStore, SchedulePlanner } from '../../../lib/jobs/stores/job-store.js';
import type { MemoryStoreOptions } from '../../../lib/jobs/stores/memory-store.js';
import { anError, context, newJob, newSchedule, storeCases } from './store-cases.js';

/**
 * The JobStore contract (job-store.ts), the same for every store: memory, and SQLite on each present driver.
 *
 * Not bullmqStore, by design: it is a delivering store (BullMQ's Worker fetches and locks; claim(), renew(),
 * recover() and nextRunAt() answer nothing, and settle() answers the Worker's processor), and it keeps no schedules.
 * It is held to the same behaviour one level up: the durable integration, shutdown, fairness and groups suites run on
 * it (test/support/stores.ts STORE_CASES), with its own cases in bullmq-specific.test.ts and the process test
 * test/process/bullmq-scale-out.test.ts.
 */
const { cases, cleanup } = storeCases();
afterAll(cleanup);

describe.each(cases)('JobStore contract: $label', (store) => {
  const opened: JobStore[] = [];
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
  });
  async function open(options?: MemoryStoreOptions, owner = 'owner-1'): Promise<JobStore> {
    const s = store.make(options);
    await s.open(context(owner));
    opened.push(s);
    return s;
  }

  it('inserts pending or scheduled rows, with every field as given and the rest at their start', async () => {
    const s = await open();
    const [a, b] = await s.insert([newJob('01A', { key: 'k', priority: 2, options: '{"retry":1}', trace: 't' }), newJob('01B', { runAt: 500 })], 100);
    expect(a).toEqual({
      created: true,
      job: {
        id: '01A', name: 'n', queue: 'q', state: 'pending', payload: '{"a":1}', key: 'k', group: null, priority: 2, attempts: 0, maxAttempts: 3, stalls: 0,
        runAt: 0, createdAt: 0, startedAt: null, finishedAt: null, progress: null, result: null, errors: '[]', options: '{"retry":1}', trace: 't',
      },
    });
    expect(b.job.state).toBe('scheduled');
    expect(await s.get('01A')).toEqual(a.job);
    expect(await s.get('nope')).toBeUndefined();
    expect(await s.insert([], 0)).toEqual([]);
  });

  it('keeps one active job per queue and key, within a batch too, and frees the key when the job ends', async () => {
    const s = await open();
    const results = await s.insert([newJob('01A', { key: 'k' }), newJob('01B', { key: 'k' }), newJob('01C', { key: 'k', queue: 'other' })], 0);
    expect(results.map((r) => [r.created, r.job.id])).toEqual([[true, '01A'], [false, '01A'], [true, '01C']]);
    expect((await s.insert([newJob('01D', { key: 'k' })], 0))[0]).toMatchObject({ created: false, job: { id: '01A' } });
    await s.claim('q', ['n'], 1, 0);
    expect((await s.insert([newJob('01E', { key: 'k' })], 0))[0].created).toBe(false);
    await s.settle([{ id: '01A', type: 'succeeded', result: '7' }], 1);
    expect((await s.insert([newJob('01F', { key: 'k' })], 2))[0]).toMatchObject({ created: true, job: { id: '01F' } });
    expect((await s.list({ limit: 10 })).map((j) => j.id)).toEqual(['01A', '01C', '01F']);
  });

  it('rejects a batch with an id that exists, storing none of it', async () => {
    const s = await open();
    await s.insert([newJob('01A')], 0);
    await expect(s.insert([newJob('01B'), newJob('01A')], 0)).rejects.toThrow(/01A|UNIQUE/);
    expect((await s.list({ limit: 10 })).map((j) => j.id)).toEqual(['01A']);
  });

  it('claims higher priority first, then earlier runAt, then lower id, only for the names asked, promoting due scheduled jobs', async () => {
    const s = await open();
    await s.insert(
      [newJob('01A', { runAt: 5 }), newJob('01B', { priority: 1, runAt: 9 }), newJob('01C', { runAt: 1 }), newJob('01D', { name: 'other' }), newJob('01E', { runAt: 50 }), newJob('01F', { queue: 'q2' })],
      10,
    );
    const first = await s.claim('q', ['n'], 2, 10);
    expect(first.map((j) => j.id)).toEqual(['01B', '01C']);
    expect(first[0]).toMatchObject({ id: '01B', queue: 'q', attempts: 1, priority: 1, runAt: 9 });
    expect(await s.get('01B')).toMatchObject({ state: 'running', attempts: 1, startedAt: 10 });
    expect((await s.claim('q', ['n'], 10, 10)).map((j) => j.id)).toEqual(['01A']);
    expect(await s.nextRunAt('q', ['n'])).toBe(50);
    expect(await s.nextRunAt('q', ['other'])).toBeUndefined();
    expect((await s.claim('q', ['n', 'other'], 10, 50)).map((j) => j.id)).toEqual(['01D', '01E']);
    expect(await s.claim('q', [], 10, 50)).toEqual([]);
    expect(await s.claim('q2', ['n'], 0, 50)).toEqual([]);
    expect((await s.counts()).running).toBe(5);
    expect(await s.counts('q2')).toEqual({ scheduled: 0, pending: 1, running: 0, succeeded: 0, failed: 0, cancelled: 0 });
  });

  it('settles each outcome of a running job it owns, in order, and ignores the others', async () => {
    const s = await open();
    await s.insert(['01A', '01B', '01C', '01D', '01E', '01F', '01G'].map((id) => newJob(id)), 0);
    await s.claim('q', ['n'], 6, 0);
    await s.settle(
      [
        { id: '01A', type: 'progress', progress: 0.5 },
        { id: '01A', type: 'succeeded', result: '{"ok":true}' },
        { id: '01B', type: 'succeeded', result: null },
        { id: '01C', type: 'failed', error: anError(1) },
        { id: '01D', type: 'retry', error: anError(1), runAt: 1_000 },
        { id: '01E', type: 'retry', error: anError(1), runAt: 5 },
        { id: '01F', type: 'handBack' },
        { id: '01G', type: 'succeeded', result: null },
        { id: '01A', type: 'failed', error: anError(9) },
      ],
      10,
    );
    const rows = Object.fromEntries((await s.list({ limit: 10 })).map((j) => [j.id, j]));
    expect(rows['01A']).toMatchObject({ state: 'succeeded', progress: 0.5, result: '{"ok":true}', finishedAt: 10, errors: '[]' });
    expect(rows['01B']).toMatchObject({ state: 'succeeded', result: null, finishedAt: 10 });
    expect(rows['01C']).toMatchObject({ state: 'failed', finishedAt: 10, errors: JSON.stringify([anError(1)]) });
    expect(rows['01D']).toMatchObject({ state: 'scheduled', runAt: 1_000, attempts: 1, finishedAt: null });
    expect(rows['01E']).toMatchObject({ state: 'pending', runAt: 5, attempts: 1 });
    expect(rows['01F']).toMatchObject({ state: 'pending', attempts: 0, stalls: 0 });
    expect(rows['01G']).toMatchObject({ state: 'pending', attempts: 0 }); // never claimed: not ours to settle
    // A second error is appended to the first.
    await s.claim('q', ['n'], 10, 10);
    await s.settle([{ id: '01E', type: 'cancelled', error: anError(2) }], 20);
    expect(JSON.parse((await s.get('01E'))!.errors)).toEqual([anError(1), anError(2)]);
  });

  it('cancels pending and scheduled jobs at once, asks for running ones (renew reports them), and says false otherwise', async () => {
    const s = await open();
    await s.insert([newJob('01A'), newJob('01B', { runAt: 100 }), newJob('01C'), newJob('01D')], 0);
    expect((await s.claim('q', ['n'], 3, 0)).map((j) => j.id)).toEqual(['01A', '01C', '01D']);
    await s.settle([{ id: '01D', type: 'succeeded', result: null }], 1);
    expect(await s.cancel('01B', anError(0, 5), 5)).toBe('cancelled');
    expect(await s.get('01B')).toMatchObject({ state: 'cancelled', finishedAt: 5, errors: JSON.stringify([anError(0, 5)]) });
    expect(await s.cancel('01A', anError(0), 5)).toBe('requested');
    expect(await s.cancel('01D', anError(0), 5)).toBe(false);
    expect(await s.cancel('01Z', anError(0), 5)).toBe(false);
    expect(await s.renew(6)).toEqual(['01A']);
    expect(await s.get('01A')).toMatchObject({ state: 'running' });
    await s.settle([{ id: '01A', type: 'cancelled', error: anError(1) }], 7);
    expect(await s.renew(8)).toEqual([]);
    expect(await s.counts()).toEqual({ scheduled: 0, pending: 0, running: 1, succeeded: 1, failed: 0, cancelled: 2 });
  });

  it('retries failed and cancelled jobs from attempt 0, keeping their errors, unless their key is taken again', async () => {
    const s = await open();
    await s.insert([newJob('01A', { key: 'k' }), newJob('01B')], 0);
    await s.claim('q', ['n'], 2, 0);
    await s.settle([{ id: '01A', type: 'failed', error: anError(1) }, { id: '01B', type: 'retry', error: anError(1), runAt: 1 }], 10);
    expect(await s.retry('01B', 20)).toBe(false); // pending, not ended
    await s.insert([newJob('01C', { key: 'k' })], 20);
    expect(await s.retry('01A', 20)).toBe(false);
    await s.cancel('01C', anError(0), 21);
    expect(await s.retry('01A', 30)).toBe(true);
    expect(await s.get('01A')).toMatchObject({ state: 'pending', attempts: 0, stalls: 0, runAt: 30, finishedAt: null, errors: JSON.stringify([anError(1)]) });
    expect(await s.retry('01C', 30)).toBe(false); // its key is 01A's again
    expect(await s.retry('01Z', 30)).toBe(false);
  });

  it('recovers running jobs whose lease ran out: pending with stalls + 1 and the attempt not charged, failed past maxStalls', async () => {
    const s = await open({ leaseMs: 1_000, maxStalls: 1 });
    await s.insert([newJob('01A'), newJob('01B')], 0);
    await s.claim('q', ['n'], 2, 0);
    expect(await s.recover(1_000)).toEqual({ requeued: [], failed: [] });
    await s.renew(900); // 01A and 01B now hold until 1_900
    expect((await s.recover(1_800)).requeued).toEqual([]);
    const first = await s.recover(2_000);
    expect(first.requeued.map((j) => [j.id, j.state, j.stalls, j.attempts])).toEqual([['01A', 'pending', 1, 0], ['01B', 'pending', 1, 0]]);
    await s.claim('q', ['n'], 1, 2_000);
    const second = await s.recover(3_001);
    expect(second.requeued).toEqual([]);
    expect(second.failed.map((j) => [j.id, j.state, j.stalls, j.attempts, j.finishedAt])).toEqual([['01A', 'failed', 2, 0, 3_001]]);
    expect(JSON.parse(second.failed[0].errors)).toEqual([
      { attempt: 0, name: 'JobStalledError', message: 'Job 01A "n" was orphaned 2 times (its process died while running it); maxStalls is 1', at: 3_001 },
    ]);
    expect(await s.get('01A')).toEqual(second.failed[0]);
  });

  it('treats the running jobs of a closed owner as orphans at once, and leaves a live owner’s alone', async () => {
    const before = await open({ leaseMs: 60_000 }, 'before');
    await before.insert([newJob('01A')], 0);
    await before.claim('q', ['n'], 1, 0);
    // Another live process on the same file (SQLite) does not take it over while its owner is open.
    const other = store.sibling?.({ leaseMs: 60_000 });
    await other?.open(context('alive-sibling'));
    if (other !== undefined) opened.push(other);
    expect((await other?.recover(10))?.requeued ?? []).toEqual([]);
    await before.close();
    opened.splice(opened.indexOf(before), 1);
    const after = other ?? before;
    if (after === before) await before.open(context('after'));
    const { requeued } = await after.recover(10);
    expect(requeued.map((j) => [j.id, j.stalls])).toEqual([['01A', 1]]);
    expect((await after.claim('q', ['n'], 1, 10)).map((j) => j.id)).toEqual(['01A']);
  });

  it('lists by id, filtered and paged', async () => {
    const s = await open();
    await s.insert([newJob('01A'), newJob('01B', { name: 'm' }), newJob('01C', { queue: 'r' }), newJob('01D', { runAt: 99 })], 0);
    expect((await s.list({ limit: 2 })).map((j) => j.id)).toEqual(['01A', '01B']);
    expect((await s.list({ limit: 10, after: '01B' })).map((j) => j.id)).toEqual(['01C', '01D']);
    expect((await s.list({ limit: 10, queue: 'q', states: ['pending'] })).map((j) => j.id)).toEqual(['01A', '01B']);
    expect((await s.list({ limit: 10, name: 'm' })).map((j) => j.id)).toEqual(['01B']);
    expect((await s.list({ limit: 10, states: ['scheduled', 'failed'] })).map((j) => j.id)).toEqual(['01D']);
    expect(await s.list({ limit: 10, states: [] })).toEqual([]);
  });

  it('lists newest first, paging down from a cursor, and finds jobs by key in any state', async () => {
    const s = await open();
    await s.insert([newJob('01A', { key: 'k' }), newJob('01B'), newJob('01C', { queue: 'r', key: 'k' }), newJob('01D'), newJob('01E')], 0);
    await s.claim('q', ['n'], 1, 0);
    await s.settle([{ id: '01A', type: 'failed', error: anError(1) }], 1);
    await s.insert([newJob('01F', { key: 'k' })], 2); // the key is free again once 01A failed
    const ids = async (filter: Parameters<JobStore['list']>[0]) => (await s.list(filter)).map((j) => j.id);
    expect(await ids({ limit: 2, order: 'desc' })).toEqual(['01F', '01E']);
    expect(await ids({ limit: 2, order: 'desc', after: '01E' })).toEqual(['01D', '01C']);
    expect(await ids({ limit: 10, order: 'desc', after: '01B' })).toEqual(['01A']);
    expect(await ids({ limit: 10, order: 'desc', after: '01A' })).toEqual([]);
    expect(await ids({ limit: 10, order: 'asc', after: '01D' })).toEqual(['01E', '01F']);
    expect(await ids({ limit: 10, key: 'k' })).toEqual(['01A', '01C', '01F']);
    expect(await ids({ limit: 10, key: 'k', queue: 'q', order: 'desc' })).toEqual(['01F', '01A']);
    expect(await ids({ limit: 10, key: 'k', states: ['failed'] })).toEqual(['01A']);
    expect(await ids({ limit: 10, key: 'none' })).toEqual([]);
    // A cursor that is not an id of the store still pages by order.
    expect(await ids({ limit: 10, order: 'desc', after: '01C0' })).toEqual(['01C', '01B', '01A']);
  });

  it('counts jobs by state for every queue that has any, in one call', async () => {
    const s = await open();
    expect(await s.countsByQueue()).toEqual({});
    await s.insert([newJob('01A'), newJob('01B'), newJob('01C', { queue: 'r', runAt: 50 }), newJob('01D', { queue: 'r' })], 0);
    await s.claim('q', ['n'], 1, 0);
    await s.cancel('01D', anError(0), 0);
    const zero = { scheduled: 0, pending: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
    expect(await s.countsByQueue()).toEqual({ q: { ...zero, running: 1, pending: 1 }, r: { ...zero, scheduled: 1, cancelled: 1 } });
    await s.settle([{ id: '01A', type: 'succeeded', result: null }], 1);
    expect((await s.countsByQueue()).q).toEqual({ ...zero, pending: 1, succeeded: 1 });
    // Only the states asked for, and only the queues that have jobs in them.
    expect(await s.countsByQueue(['pending', 'running'])).toEqual({ q: { pending: 1, running: 0 } });
    expect(await s.countsByQueue(['scheduled', 'succeeded'])).toEqual({ q: { scheduled: 0, succeeded: 1 }, r: { scheduled: 1, succeeded: 0 } });
    expect(await s.countsByQueue([])).toEqual({});
  });

  it('pages by id over thousands of rows while sweeps remove some of them', async () => {
    const s = await open({ retention: { succeeded: 0 } });
    const ids = Array.from({ length: 3_000 }, (_, i) => `01${String(i).padStart(6, '0')}`);
    await s.insert(ids.map((id) => newJob(id)), 0);
    // Two jobs in three succeed and are swept (memoryStore compacts its id order midway): the rest must page as
    // if those had never been.
    const gone = ids.filter((_, i) => i % 3 !== 0);
    await s.claim('q', ['n'], 3_000, 0);
    await s.settle(gone.map((id) => ({ id, type: 'succeeded' as const, result: null })), 0);
    expect(await s.sweep(0)).toBe(2_000);
    const kept = ids.filter((_, i) => i % 3 === 0);
    const walk = async (order: 'asc' | 'desc'): Promise<string[]> => {
      const seen: string[] = [];
      for (let after: string | undefined; ; ) {
        const page = await s.list({ limit: 170, order, after });
        if (page.length === 0) return seen;
        seen.push(...page.map((j) => j.id));
        after = page.at(-1)!.id;
      }
    };
    expect(await walk('asc')).toEqual(kept);
    expect(await walk('desc')).toEqual(kept.toReversed());
    await s.insert([newJob('01999999')], 0);
    expect((await s.list({ limit: 1, order: 'desc' }))[0].id).toBe('01999999');
  });

  it('tells the oldest pending runAt, per queue or of all', async () => {
    const s = await open();
    expect(await s.oldestPending()).toBeUndefined();
    await s.insert([newJob('01A', { runAt: 7, priority: 9 }), newJob('01B', { runAt: 3 }), newJob('01C', { queue: 'r', runAt: 1 }), newJob('01D', { runAt: 50 })], 10);
    expect(await s.oldestPending('q')).toBe(3);
    expect(await s.oldestPending()).toBe(1);
    await s.claim('q', ['n'], 2, 10);
    expect(await s.oldestPending('q')).toBeUndefined();
  });

  it('sweeps ended jobs past their retention, by state', async () => {
    const s = await open({ retention: { succeeded: 100, cancelled: 200, failed: Infinity } });
    await s.insert(['01A', '01B', '01C', '01D'].map((id) => newJob(id)), 0);
    await s.cancel('01D', anError(0), 0);
    await s.claim('q', ['n'], 3, 0);
    await s.settle([{ id: '01A', type: 'succeeded', result: null }, { id: '01B', type: 'failed', error: anError(1) }], 0);
    expect(await s.sweep(99)).toBe(0);
    expect(await s.sweep(100)).toBe(1);
    expect(await s.sweep(1e12)).toBe(1);
    expect((await s.list({ limit: 10 })).map((j) => [j.id, j.state])).toEqual([['01B', 'failed'], ['01C', 'running']]);
    expect(await s.counts()).toEqual({ scheduled: 0, pending: 0, running: 1, succeeded: 0, failed: 1, cancelled: 0 });
  });

  it('sweeps in batches, many thousands of rows', async () => {
    const s = await open({ retention: { succeeded: 0 } });
    for (let batch = 0; batch < 5; batch++) {
      const ids = Array.from({ length: 1_000 }, (_, i) => `01${String(batch * 1_000 + i).padStart(6, '0')}`);
      await s.insert(ids.map((id) => newJob(id)), 0);
      await s.claim('q', ['n'], 1_000, 0);
      await s.settle(ids.map((id) => ({ id, type: 'succeeded' as const, result: null })), 0);
    }
    expect(await s.sweep(0)).toBe(5_000);
    expect(await s.counts()).toEqual({ scheduled: 0, pending: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 });
  });

  it('rejects calls before open and after close with a clear error; close is idempotent', async () => {
    const s = store.make();
    await expect(s.get('x')).rejects.toThrow(/not open/);
    await s.open(context());
    await s.close();
    await s.close();
    await expect(s.get('x')).rejects.toThrow(/is closed/);
    await expect(s.insert([newJob('01A')], 0)).rejects.toThrow(/is closed/);
    await expect(s.sweep(0)).rejects.toThrow(/is closed/);
  });

  // ---- schedules ------------------------------------------------------------------------------------------------

  it('upserts schedules: a new one as given; a re-declaration with the same timing keeps its next tick and last job', async () => {
    const s = await open();
    const a = await s.upsertSchedule!(newSchedule('b-sched', { nextRunAt: 1_000 }), 10);
    expect(a).toEqual({ ...newSchedule('b-sched', { nextRunAt: 1_000 }), lastJobId: null, createdAt: 10, updatedAt: 10 });
    await s.upsertSchedule!(newSchedule('a-sched', { nextRunAt: 50 }), 10);
    await s.fireDue!(100, (schedule) => ({ jobs: [newJob('01A', { runAt: schedule.nextRunAt! })], nextRunAt: 2_000 }));
    // Same cron and tz: the stored next tick (2_000) and last job stay; everything else is the new declaration's.
    const again = await s.upsertSchedule!(newSchedule('a-sched', { nextRunAt: 9_999, payload: '{"v":2}', overlap: 'skip', priority: 5 }), 20);
    expect(again).toMatchObject({ nextRunAt: 2_000, lastJobId: '01A', payload: '{"v":2}', overlap: 'skip', priority: 5, createdAt: 10, updatedAt: 20 });
    // New timing: the given next tick; the last job is still the last job.
    const retimed = await s.upsertSchedule!(newSchedule('a-sched', { cron: '*/5 * * * * *', nextRunAt: 3_000 }), 30);
    expect(retimed).toMatchObject({ cron: '*/5 * * * * *', nextRunAt: 3_000, lastJobId: '01A', createdAt: 10 });
    expect((await s.upsertSchedule!(newSchedule('a-sched', { cron: '*/5 * * * * *', tz: 'Europe/Paris', nextRunAt: 4_000 }), 40)).nextRunAt).toBe(4_000);
    // A parked schedule (no next tick) declared again takes the new next tick.
    await s.upsertSchedule!(newSchedule('c-sched', { nextRunAt: null }), 40);
    expect((await s.upsertSchedule!(newSchedule('c-sched', { nextRunAt: 7 }), 41)).nextRunAt).toBe(7);
    expect((await s.listSchedules!()).map((x) => x.id)).toEqual(['a-sched', 'b-sched', 'c-sched']);
    expect(await s.removeSchedule!('b-sched')).toBe(true);
    expect(await s.removeSchedule!('b-sched')).toBe(false);
    expect((await s.listSchedules!()).map((x) => x.id)).toEqual(['a-sched', 'c-sched']);
    expect(await s.get('01A')).toBeDefined(); // its jobs stay
  });

  it('fires due schedules only, earliest first, inserting the planned jobs and advancing each in one step', async () => {
    const s = await open();
    await s.upsertSchedule!(newSchedule('late', { nextRunAt: 300 }), 0);
    await s.upsertSchedule!(newSchedule('early', { nextRunAt: 100, queue: 'q2' }), 0);
    await s.upsertSchedule!(newSchedule('same', { nextRunAt: 100 }), 0);
    await s.upsertSchedule!(newSchedule('never', { nextRunAt: null }), 0);
    const seen: string[] = [];
    const planner: SchedulePlanner = (schedule, now, lastJobActive) => {
      seen.push(`${schedule.id} ${now} ${lastJobActive}`);
      return { jobs: [newJob(`01${schedule.id}`, { name: schedule.name, queue: schedule.queue, runAt: schedule.nextRunAt! })], nextRunAt: schedule.nextRunAt! + 1_000 };
    };
    expect(await s.fireDue!(99, planner)).toEqual({ fired: [], nextAt: 100 });
    expect(seen).toEqual([]);
    const result = await s.fireDue!(200, planner);
    expect(seen).toEqual(['early 200 false', 'same 200 false']);
    expect(result.nextAt).toBe(300);
    expect(result.fired.map((f) => [f.schedule.id, f.schedule.nextRunAt, f.schedule.lastJobId, f.jobs.map((j) => [j.created, j.job.id, j.job.state, j.job.queue])])).toEqual([
      ['early', 1_100, '01early', [[true, '01early', 'pending', 'q2']]],
      ['same', 1_100, '01same', [[true, '01same', 'pending', 'q']]],
    ]);
    expect(result.fired[0].plan.jobs[0].id).toBe('01early'); // the planner's own object
    expect(await s.get('01early')).toMatchObject({ state: 'pending', runAt: 100 });
    expect(await s.fireDue!(200, planner)).toEqual({ fired: [], nextAt: 300 }); // fired once
    const stored = Object.fromEntries((await s.listSchedules!()).map((x) => [x.id, [x.nextRunAt, x.lastJobId]]));
    expect(stored).toEqual({ early: [1_100, '01early'], late: [300, null], never: [null, null], same: [1_100, '01same'] });
  });

  it('tells the planner whether the last job is still active, keeps the last job when a plan inserts none, and stops at null', async () => {
    const s = await open();
    await s.upsertSchedule!(newSchedule('s', { nextRunAt: 10 }), 0);
    const actives: boolean[] = [];
    let insert = true;
    let n = 0;
    const planner: SchedulePlanner = (schedule, _now, lastJobActive) => {
      actives.push(lastJobActive);
      return { jobs: insert ? [newJob(`01${++n}`, { runAt: schedule.nextRunAt! })] : [], nextRunAt: schedule.nextRunAt! + 10 };
    };
    await s.fireDue!(10, planner); // inserts 011
    await s.fireDue!(20, planner); // 011 pending: active; inserts 012
    await s.claim('q', ['n'], 1, 20); // 011 running
    insert = false;
    await s.fireDue!(30, planner); // 012 pending: active; inserts none
    expect((await s.listSchedules!())[0].lastJobId).toBe('012');
    await s.claim('q', ['n'], 1, 30);
    await s.settle([{ id: '012', type: 'succeeded', result: null }], 31);
    await s.fireDue!(40, planner); // 012 ended
    expect(actives).toEqual([false, true, true, false]);
    const ended = await s.fireDue!(50, () => ({ jobs: [], nextRunAt: null }));
    expect(ended.nextAt).toBeUndefined();
    expect(await s.fireDue!(1e12, planner)).toEqual({ fired: [], nextAt: undefined });
  });

  it('applies none of a step whose insert fails: the tick stays due', async () => {
    const s = await open();
    await s.insert([newJob('01A')], 0);
    await s.upsertSchedule!(newSchedule('s', { nextRunAt: 10 }), 0);
    await expect(s.fireDue!(10, () => ({ jobs: [newJob('01B'), newJob('01A')], nextRunAt: 20 }))).rejects.toThrow(/01A|UNIQUE/);
    expect((await s.listSchedules!())[0]).toMatchObject({ nextRunAt: 10, lastJobId: null });
    expect(await s.get('01B')).toBeUndefined();
  });

  it('fires each tick once when two stores on the same data race (SQLite: two processes on one file)', async () => {
    const first = await open();
    const second = store.sibling === undefined ? first : store.sibling();
    if (second !== first) {
      await second.open(context('owner-2'));
      opened.push(second);
    }
    await first.upsertSchedule!(newSchedule('s', { nextRunAt: 0 }), 0);
    let n = 0;
    const planner: SchedulePlanner = (schedule) => ({ jobs: [newJob(`01${String(++n).padStart(4, '0')}`, { runAt: schedule.nextRunAt! })], nextRunAt: schedule.nextRunAt! + 10 });
    for (let now = 0; now < 1_000; now += 5) {
      await Promise.all([first.fireDue!(now, planner), second.fireDue!(now, planner), first.fireDue!(now, planner)]);
    }
    const jobs = await first.list({ limit: 1_000 });
    expect(jobs.map((j) => j.runAt)).toEqual(Array.from({ length: 100 }, (_, i) => i * 10));
  });

  it('has the settings it was given and the documented defaults', () => {
    const s = store.make();
    expect(s.settings).toMatchObject({ leaseMs: 30_000, maxStalls: 2, retention: { succeeded: 86_400_000, cancelled: 86_400_000, failed: 604_800_000 } });
    expect(s.settings.pollMs).toBe(s.durable ? 250 : undefined);
    expect(s.description).toMatch(s.durable ? /^sqlite \/.*jobs\.db$/ : /^memory$/);
  });
});

const ids = (jobs: { id: string }[]): string[] => jobs.map((j) => j.id);
const done = (s: JobStore, id: string, now = 1): Promise<void> => s.settle([{ id, type: 'succeeded', result: null }], now);

/** Groups (JobStore.claim): every store that says it has them, on the same cases. */
describe.each(cases)('JobStore groups: $label', (store) => {
  const opened: JobStore[] = [];
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
  });
  async function open(options?: MemoryStoreOptions, owner = 'owner-1'): Promise<JobStore> {
    const s = store.make(options);
    await s.open(context(owner));
    opened.push(s);
    return s;
  }
  it('says it has groups', async () => {
    expect((await open()).capabilities).toEqual({ groups: true });
  });

  it('runs the jobs of a group one at a time in claim order while other groups and ungrouped jobs go on', async () => {
    const s = await open();
    await s.insert(
      [newJob('01A', { group: 'g1' }), newJob('01B', { group: 'g1' }), newJob('01C', { group: 'g2' }), newJob('01D'), newJob('01E', { group: 'g1' }), newJob('01F', { group: 'g2' }), newJob('01G')],
      0,
    );
    const first = await s.claim('q', ['n'], 10, 0);
    expect(ids(first)).toEqual(['01A', '01C', '01D', '01G']);
    expect(first.map((j) => j.group)).toEqual(['g1', 'g2', null, null]);
    expect(await s.get('01A')).toMatchObject({ group: 'g1', state: 'running' });
    expect(await s.claim('q', ['n'], 10, 0)).toEqual([]);
    await done(s, '01C');
    expect(ids(await s.claim('q', ['n'], 10, 1))).toEqual(['01F']);
    // A higher priority jumps the group's line, but never its running job.
    await s.insert([newJob('01H', { group: 'g1', priority: 5 })], 1);
    expect(await s.claim('q', ['n'], 10, 1)).toEqual([]);
    await done(s, '01A');
    expect(ids(await s.claim('q', ['n'], 10, 1))).toEqual(['01H']);
    await done(s, '01H');
    expect(ids(await s.claim('q', ['n'], 1, 1))).toEqual(['01B']);
    await done(s, '01B');
    expect(ids(await s.claim('q', ['n'], 10, 1))).toEqual(['01E']);
  });

  it('keeps a group per queue, lets a delayed job wait without holding its group, and lets a head of another name hold it', async () => {
    const s = await open();
    await s.insert([newJob('01A', { group: 'g', runAt: 50 }), newJob('01B', { group: 'g', name: 'other' }), newJob('01C', { group: 'g' }), newJob('01D', { group: 'g', queue: 'q2' })], 0);
    // 01A is not due; 01B (a name this claimer does not run) is the head: 01C waits behind it.
    expect(await s.claim('q', ['n'], 10, 0)).toEqual([]);
    expect(ids(await s.claim('q2', ['n'], 10, 0))).toEqual(['01D']);
    expect(ids(await s.claim('q', ['n', 'other'], 10, 0))).toEqual(['01B']);
    await done(s, '01B', 60);
    // 01A came due at 50 and is pending now, after 01C in claim order (runAt 0 before 50).
    expect(ids(await s.claim('q', ['n'], 10, 60))).toEqual(['01C']);
    await done(s, '01C', 61);
    expect(ids(await s.claim('q', ['n'], 10, 61))).toEqual(['01A']);
  });

  it('keeps the group for a job that waits out a retry, until it succeeds, fails for good or is cancelled', async () => {
    const s = await open();
    await s.insert([newJob('01A', { group: 'g' }), newJob('01B', { group: 'g' }), newJob('01C', { group: 'g' }), newJob('01D', { group: 'g' })], 0);
    expect(ids(await s.claim('q', ['n'], 10, 0))).toEqual(['01A']);
    await s.settle([{ id: '01A', type: 'retry', error: anError(1), runAt: 100 }], 10);
    // Scheduled, with a runAt after the others': it still holds the group.
    expect(await s.claim('q', ['n'], 10, 10)).toEqual([]);
    expect(ids(await s.claim('q', ['n'], 10, 100))).toEqual(['01A']);
    await s.settle([{ id: '01A', type: 'retry', error: anError(2), runAt: 100 }], 100);
    expect(await s.get('01A')).toMatchObject({ state: 'pending', attempts: 2 });
    expect(ids(await s.claim('q', ['n'], 10, 100))).toEqual(['01A']);
    await s.settle([{ id: '01A', type: 'failed', error: anError(3) }], 101);
    expect(ids(await s.claim('q', ['n'], 10, 101))).toEqual(['01B']);
    await s.settle([{ id: '01B', type: 'retry', error: anError(1), runAt: 200 }], 102);
    expect(await s.cancel('01B', anError(0), 103)).toBe('cancelled');
    expect(ids(await s.claim('q', ['n'], 10, 103))).toEqual(['01C']);
    // A running job asked to cancel holds its group until its end is settled.
    expect(await s.cancel('01C', anError(0), 104)).toBe('requested');
    expect(await s.claim('q', ['n'], 10, 104)).toEqual([]);
    await s.settle([{ id: '01C', type: 'cancelled', error: anError(1) }], 105);
    expect(ids(await s.claim('q', ['n'], 10, 105))).toEqual(['01D']);
  });

  it('keeps the group for an orphan and a job handed back; retry() of an ended job makes it new, holding nothing', async () => {
    const s = await open({ leaseMs: 1_000 });
    await s.insert([newJob('01A', { group: 'g' }), newJob('01B', { group: 'g' })], 0);
    expect(ids(await s.claim('q', ['n'], 10, 0))).toEqual(['01A']);
    // A job of higher priority comes while 01A runs: once 01A is orphaned, 01A still goes first.
    await s.insert([newJob('01C', { group: 'g', priority: 9 })], 1);
    expect(ids((await s.recover(5_000)).requeued)).toEqual(['01A']);
    expect(ids(await s.claim('q', ['n'], 10, 5_000))).toEqual(['01A']);
    await s.settle([{ id: '01A', type: 'handBack' }], 5_001);
    expect(await s.get('01A')).toMatchObject({ state: 'pending', attempts: 0, stalls: 1 });
    expect(ids(await s.claim('q', ['n'], 10, 5_002))).toEqual(['01A']);
    await s.settle([{ id: '01A', type: 'failed', error: anError(1) }], 5_003);
    expect(await s.retry('01A', 5_004)).toBe(true);
    // 01A is new again, at the back of the line (runAt 5_004): 01C (priority), then 01B, then 01A.
    expect(ids(await s.claim('q', ['n'], 10, 5_004))).toEqual(['01C']);
    await done(s, '01C', 5_005);
    expect(ids(await s.claim('q', ['n'], 10, 5_005))).toEqual(['01B']);
    await done(s, '01B', 5_006);
    expect(ids(await s.claim('q', ['n'], 10, 5_006))).toEqual(['01A']);
  });

  it('fails an orphan past maxStalls and frees its group', async () => {
    const s = await open({ leaseMs: 1_000, maxStalls: 0 });
    await s.insert([newJob('01A', { group: 'g' }), newJob('01B', { group: 'g' })], 0);
    await s.claim('q', ['n'], 10, 0);
    expect(ids((await s.recover(5_000)).failed)).toEqual(['01A']);
    expect(ids(await s.claim('q', ['n'], 10, 5_000))).toEqual(['01B']);
  });

  it('never runs two jobs of one group at once across two stores on one file', async (t) => {
    if (store.sibling === undefined) return t.skip();
    const a = await open(undefined, 'owner-a');
    const b = store.sibling();
    await b.open(context('owner-b'));
    opened.push(b);
    const jobs = Array.from({ length: 60 }, (_, i) => newJob(`01${String(i).padStart(3, '0')}`, { group: `g${i % 4}` }));
    await a.insert(jobs, 0);
    const started: string[] = [];
    const running = new Map<string, { store: JobStore; group: string }>();
    for (let turn = 0; started.length < jobs.length; turn++) {
      const s = turn % 2 === 0 ? a : b;
      for (const job of await s.claim('q', ['n'], 3, turn)) {
        expect([...running.values()].map((r) => r.group), `turn ${turn}`).not.toContain(job.group);
        running.set(job.id, { store: s, group: job.group! });
        started.push(job.id);
      }
      // Each store ends one of its own running jobs a turn, in the order they started.
      const mine = [...running].find(([, r]) => r.store === s);
      if (mine !== undefined) {
        running.delete(mine[0]);
        await done(s, mine[0], turn);
      }
      expect(turn).toBeLessThan(500);
    }
    for (const group of ['g0', 'g1', 'g2', 'g3']) {
      const order = started.filter((id) => jobs.find((j) => j.id === id)!.group === group);
      expect({ group, order }).toEqual({ group, order: order.toSorted() });
    }
  });
});
