import * as fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { ClaimedJob, JobStore, JobUpdate, NewJob, SchedulePlanner } from '../../../lib/jobs/stores/job-store.js';
import { context, storeCases } from './store-cases.js';
import { StoreModel } from './store-model.js';

/**
 * Random programs of store calls, run on a store and on the plain model in store-model.ts: every answer and,
 * after every call, every row, the counts and the schedule queries must agree. 300 programs a store by default
 * (PROPERTY_RUNS raises it); the seed is fixed (PROPERTY_SEED changes it) and a failure prints it with the path.
 */
const runs = Math.max(300, Number(process.env.PROPERTY_RUNS ?? 0));
/** Group programs are longer: half as many. */
const groupRuns = Math.ceil(runs / 2);
const seed = Number(process.env.PROPERTY_SEED ?? 20_251_205);
const LEASE = 1_000;
const MAX_STALLS = 1;
const RETENTION = { succeeded: 5_000, cancelled: 3_000, failed: 10_000 };
const QUEUES = ['q', 'r'];
const NAMES = ['a', 'b', 'c'];

type Command =
  | { type: 'insert'; jobs: { queue: number; name: number; key: number | null; group: number | null; priority: number; delay: number }[] }
  | { type: 'claim'; queue: number; names: readonly number[]; limit: number }
  | { type: 'settle'; updates: { pick: number; kind: JobUpdate['type']; delay: number }[] }
  | { type: 'renew' }
  | { type: 'recover' }
  | { type: 'cancel'; pick: number }
  | { type: 'retry'; pick: number }
  | { type: 'sweep' }
  | { type: 'advance'; ms: number }
  | { type: 'upsertSchedule'; schedule: number; queue: number; name: number; retime: boolean; overlap: boolean; keyed: boolean; delay: number }
  | { type: 'removeSchedule'; schedule: number }
  | { type: 'fireDue'; step: number; end: boolean };

const SCHEDULES = ['s0', 's1', 's2'];

/**
 * Programs that stay on two groups of one queue, where the order rules bite: a held job waiting out a retry or
 * orphaned behind later or higher-priority jobs of its group, cancels and hand-backs of heads, retry() of ended ones.
 */
const groupCommandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    arbitrary: fc.record({
      type: fc.constant('insert' as const),
      jobs: fc.array(
        fc.record({
          queue: fc.constant(0),
          name: fc.nat(1),
          key: fc.constant(null),
          group: fc.option(fc.nat(1), { freq: 5 }),
          priority: fc.integer({ min: 0, max: 1 }),
          delay: fc.oneof(fc.constant(0), fc.nat(1_500)),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ type: fc.constant('claim' as const), queue: fc.constant(0), names: fc.constantFrom<number[]>([0], [0, 1]), limit: fc.integer({ min: 1, max: 3 }) }), weight: 5 },
  {
    arbitrary: fc.record({
      type: fc.constant('settle' as const),
      updates: fc.array(fc.record({ pick: fc.nat(), kind: fc.constantFrom<JobUpdate['type']>('succeeded', 'failed', 'retry', 'retry', 'cancelled', 'handBack'), delay: fc.nat(1_500) }), {
        minLength: 1,
        maxLength: 2,
      }),
    }),
    weight: 4,
  },
  { arbitrary: fc.constant({ type: 'recover' as const }), weight: 1 },
  { arbitrary: fc.record({ type: fc.constant('cancel' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ type: fc.constant('retry' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ type: fc.constant('advance' as const), ms: fc.nat(1_500) }), weight: 3 },
);

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    arbitrary: fc.record({
      type: fc.constant('insert' as const),
      jobs: fc.array(
        fc.record({
          queue: fc.nat(1),
          name: fc.nat(2),
          key: fc.option(fc.nat(2)),
          group: fc.option(fc.nat(1), { freq: 3 }),
          priority: fc.integer({ min: -1, max: 1 }),
          delay: fc.oneof(fc.constant(0), fc.nat(3_000)),
        }),
        { maxLength: 4 },
      ),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      type: fc.constant('claim' as const),
      queue: fc.nat(1),
      // Rarely no names: a claim that asks for nothing answers nothing, the rest are the ones that order and group.
      names: fc.oneof({ arbitrary: fc.uniqueArray(fc.nat(2), { minLength: 1, maxLength: 3 }), weight: 5 }, { arbitrary: fc.constant<number[]>([]), weight: 1 }),
      limit: fc.nat(4),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      type: fc.constant('settle' as const),
      updates: fc.array(
        fc.record({ pick: fc.nat(), kind: fc.constantFrom<JobUpdate['type']>('succeeded', 'failed', 'retry', 'cancelled', 'handBack', 'progress'), delay: fc.nat(2_000) }),
        { maxLength: 4 },
      ),
    }),
    weight: 4,
  },
  { arbitrary: fc.constant({ type: 'renew' as const }), weight: 1 },
  { arbitrary: fc.constant({ type: 'recover' as const }), weight: 2 },
  { arbitrary: fc.record({ type: fc.constant('cancel' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ type: fc.constant('retry' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.constant({ type: 'sweep' as const }), weight: 1 },
  { arbitrary: fc.record({ type: fc.constant('advance' as const), ms: fc.nat(4_000) }), weight: 3 },
  {
    arbitrary: fc.record({
      type: fc.constant('upsertSchedule' as const),
      schedule: fc.nat(2),
      queue: fc.nat(1),
      name: fc.nat(2),
      retime: fc.boolean(),
      overlap: fc.boolean(),
      keyed: fc.boolean(),
      delay: fc.nat(3_000),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ type: fc.constant('removeSchedule' as const), schedule: fc.nat(2) }), weight: 1 },
  { arbitrary: fc.record({ type: fc.constant('fireDue' as const), step: fc.integer({ min: 1, max: 2_000 }), end: fc.boolean() }), weight: 3 },
);

const CLAIMED_FIELDS = ['id', 'name', 'queue', 'payload', 'key', 'group', 'priority', 'attempts', 'stalls', 'runAt', 'createdAt', 'options', 'trace'] as const;

function claimedPart(job: ClaimedJob): ClaimedJob {
  return Object.fromEntries(CLAIMED_FIELDS.map((field) => [field, job[field]])) as ClaimedJob;
}

async function runProgram(store: JobStore, program: Command[]): Promise<void> {
  const model = new StoreModel('me', LEASE, MAX_STALLS, RETENTION);
  await store.open(context('me'));
  let now = 0;
  let seq = 0;
  const ids: string[] = [];
  const pick = (n: number): string => (ids.length === 0 ? 'none' : ids[n % ids.length]);
  try {
    for (const [step, command] of program.entries()) {
      const both = async <T>(call: (s: JobStore | StoreModel) => T | Promise<T>): Promise<void> => {
        const [real, expected] = [await call(store), await call(model)];
        expect(real, `step ${step}: ${JSON.stringify(command)}`).toEqual(expected);
      };
      switch (command.type) {
        case 'insert': {
          const jobs: NewJob[] = command.jobs.map((j) => {
            const id = `01${String(seq++).padStart(5, '0')}`;
            ids.push(id);
            const key = j.key === null ? null : `k${j.key}`;
            return { id, name: NAMES[j.name], queue: QUEUES[j.queue], payload: `{"n":${seq}}`, key, group: j.group === null ? null : `g${j.group}`, priority: j.priority, maxAttempts: 3, runAt: now + j.delay, createdAt: now, options: null, trace: null };
          });
          await both((s) => s.insert(jobs, now));
          break;
        }
        case 'claim':
          // A claim answers what a run needs (ClaimedJob); the rows themselves are compared whole by list and get.
          await both(async (s) => (await s.claim(QUEUES[command.queue], command.names.map((n) => NAMES[n]), command.limit, now)).map(claimedPart));
          break;
        case 'settle': {
          const error = { attempt: 1, name: 'Error', message: 'boom', at: now };
          // Mostly a running job (what a settle is for), so that retries, hand-backs and ends of held groups happen often.
          const running = model.all().filter((r) => r.state === 'running').map((r) => r.id);
          const updates = command.updates.map(({ pick: p, kind, delay }): JobUpdate => {
            const id = running.length > 0 && p % 4 !== 0 ? running[p % running.length] : pick(p);
            if (kind === 'succeeded') return { id, type: kind, result: delay % 2 === 0 ? null : `${delay}` };
            if (kind === 'retry') return { id, type: kind, error, runAt: now + (delay % 3 === 0 ? 0 : delay) };
            if (kind === 'progress') return { id, type: kind, progress: delay / 20 };
            if (kind === 'handBack') return { id, type: kind };
            return { id, type: kind, error };
          });
          await both((s) => s.settle(updates, now));
          break;
        }
        case 'renew':
          await both((s) => s.renew(now));
          break;
        case 'recover':
          await both((s) => s.recover(now));
          break;
        case 'cancel':
          await both((s) => s.cancel(pick(command.pick), { attempt: 0, name: 'CancelledError', message: 'stop', at: now }, now));
          break;
        case 'retry':
          await both((s) => s.retry(pick(command.pick), now));
          break;
        case 'sweep':
          await both((s) => s.sweep(now));
          break;
        case 'advance':
          now += command.ms;
          break;
        case 'upsertSchedule': {
          const schedule = {
            id: SCHEDULES[command.schedule], cron: command.retime ? '*/2 * * * * *' : '*/1 * * * * *', tz: 'UTC', overlap: command.overlap ? ('skip' as const) : ('allow' as const),
            misfire: 'once' as const, source: 'call' as const, name: NAMES[command.name], queue: QUEUES[command.queue], payload: command.keyed ? '{"keyed":true}' : '{}',
            priority: 0, maxAttempts: 2, options: null, nextRunAt: now + command.delay,
          };
          await both((s) => s.upsertSchedule!(schedule, now));
          break;
        }
        case 'removeSchedule':
          await both((s) => s.removeSchedule!(SCHEDULES[command.schedule]));
          break;
        case 'fireDue': {
          // A pure planner (as fireDue requires): one job per due schedule unless overlap says no; ids from the step.
          const planner: SchedulePlanner = (schedule, at, lastJobActive) => {
            const next = command.end && schedule.id === 's2' ? null : schedule.nextRunAt! + command.step;
            if (schedule.overlap === 'skip' && lastJobActive) return { jobs: [], nextRunAt: next };
            const id = `01F${String(step).padStart(4, '0')}${schedule.id}`;
            ids.push(id);
            const key = schedule.payload === '{"keyed":true}' ? 'k0' : null;
            return { jobs: [{ id, name: schedule.name, queue: schedule.queue, payload: schedule.payload, key, group: null, priority: 0, maxAttempts: 2, runAt: schedule.nextRunAt!, createdAt: at, options: null, trace: null }], nextRunAt: next };
          };
          await both((s) => s.fireDue!(now, planner));
          break;
        }
      }
      expect(await store.listSchedules!(), `schedules after step ${step}`).toEqual(model.listSchedules());
      expect(await store.list({ limit: 1_000 }), `rows after step ${step}`).toEqual(model.all());
      expect(await store.counts('q')).toEqual(model.counts('q'));
      expect(await store.counts()).toEqual(model.counts());
      expect(await store.nextRunAt('q', ['a', 'b'])).toEqual(model.nextRunAt('q', ['a', 'b']));
      expect(await store.oldestPending()).toEqual(model.oldestPending());
      expect(await store.countsByQueue()).toEqual(model.countsByQueue());
      expect(await store.countsByQueue(['pending', 'running', 'failed'])).toEqual(model.countsByQueue(['pending', 'running', 'failed']));
      // Pages from a cursor in either direction, with the filters a dashboard combines.
      const cursor = ids[(step * 7) % Math.max(ids.length, 1)];
      for (const filter of [
        { limit: 3, order: 'desc' as const, after: cursor },
        { limit: 2, after: cursor, states: ['pending' as const, 'failed' as const] },
        { limit: 1_000, order: 'desc' as const, queue: 'r', key: 'k1' },
        { limit: 4, order: 'desc' as const, name: 'b', states: ['succeeded' as const, 'cancelled' as const, 'scheduled' as const] },
      ]) {
        expect(await store.list(filter), `list ${JSON.stringify(filter)} after step ${step}`).toEqual(model.list(filter));
      }
    }
  } finally {
    await store.close();
  }
}

const { cases, cleanup } = storeCases();
afterAll(cleanup);

describe.each(cases)('$label against the model, in random programs', (storeCase) => {
  it(`agrees on every answer and every row (${runs} programs)`, { timeout: 300_000 }, async () => {
    const details = await fc.check(
      fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: 40 }), (program) =>
        runProgram(storeCase.make({ leaseMs: LEASE, maxStalls: MAX_STALLS, retention: RETENTION }), program),
      ),
      { numRuns: runs, seed },
    );
    expect(details.failed ? fc.defaultReportMessage(details) : 'passed').toBe('passed');
  });

  it(`agrees on the order and the holds of groups (${groupRuns} programs)`, { timeout: 300_000 }, async () => {
    const details = await fc.check(
      fc.asyncProperty(fc.array(groupCommandArb, { minLength: 5, maxLength: 40, size: 'max' }), (program) =>
        runProgram(storeCase.make({ leaseMs: LEASE, maxStalls: MAX_STALLS, retention: RETENTION }), program),
      ),
      { numRuns: groupRuns, seed },
    );
    expect(details.failed ? fc.defaultReportMessage(details) : 'passed').toBe('passed');
  });
});
