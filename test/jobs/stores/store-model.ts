import type {
  FireResult,
  InsertResult,
  JobUpdate,
  NewJob,
  NewSchedule,
  RecoveryResult,
  SchedulePlanner,
  StoreListFilter,
  StoredJob,
  StoredJobError,
  StoredSchedule,
} from '../../../lib/jobs/stores/job-store.js';
import { JOB_STATES, type JobState } from '../../../lib/jobs/job.types.js';

/**
 * The JobStore contract written as plainly as possible: every call scans every row. The property test runs the
 * same commands on it and on a real store and expects the same answers and the same rows.
 */
interface ModelRow extends StoredJob {
  owner: string | null;
  leaseUntil: number;
  cancelRequested: boolean;
  /** Claimed since it was inserted or retried by hand: while active, it holds its group. */
  held: boolean;
}

const ACTIVE: readonly JobState[] = ['scheduled', 'pending', 'running'];
const ENDED: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

/** Claim order: higher priority, earlier runAt, lower id. */
const order = (a: ModelRow, b: ModelRow): number => b.priority - a.priority || a.runAt - b.runAt || (a.id < b.id ? -1 : 1);
/** Another row of r's group (groups are per queue). */
const inGroup = (r: ModelRow, o: ModelRow): boolean => o !== r && o.queue === r.queue && o.group === r.group;

export class StoreModel {
  private rows: ModelRow[] = [];
  private schedules: StoredSchedule[] = [];

  constructor(
    private readonly owner: string,
    private readonly leaseMs: number,
    private readonly maxStalls: number,
    private readonly retention: Record<'succeeded' | 'failed' | 'cancelled', number>,
  ) {}

  insert(jobs: readonly NewJob[], now: number): InsertResult[] {
    return jobs.map((job) => {
      const holder = this.rows.find((r) => job.key !== null && r.queue === job.queue && r.key === job.key && ACTIVE.includes(r.state));
      if (holder) return { job: plain(holder), created: false };
      const row: ModelRow = {
        ...job,
        state: job.runAt > now ? 'scheduled' : 'pending',
        attempts: 0,
        stalls: 0,
        startedAt: null,
        finishedAt: null,
        progress: null,
        result: null,
        errors: '[]',
        owner: null,
        leaseUntil: 0,
        cancelRequested: false,
        held: false,
      };
      this.rows.push(row);
      return { job: plain(row), created: true };
    });
  }

  claim(queue: string, names: readonly string[], limit: number, now: number): StoredJob[] {
    if (names.length === 0 || limit < 1) return [];
    for (const r of this.rows) if (r.state === 'scheduled' && r.queue === queue && r.runAt <= now) r.state = 'pending';
    // A group's head: no other active row of it holds it, and it holds it itself or is its first pending row.
    const isHead = (r: ModelRow): boolean =>
      r.group === null ||
      (!this.rows.some((o) => inGroup(r, o) && o.held && ACTIVE.includes(o.state)) &&
        (r.held || !this.rows.some((o) => inGroup(r, o) && o.state === 'pending' && order(o, r) < 0)));
    const due = this.rows
      .filter((r) => r.state === 'pending' && r.queue === queue && names.includes(r.name) && r.runAt <= now && isHead(r))
      .toSorted(order)
      .slice(0, limit);
    for (const r of due) {
      Object.assign(r, { state: 'running', attempts: r.attempts + 1, startedAt: now, owner: this.owner, leaseUntil: now + this.leaseMs, cancelRequested: false, held: r.group !== null });
    }
    return due.map(plain);
  }

  settle(updates: readonly JobUpdate[], now: number): void {
    for (const u of updates) {
      const r = this.rows.find((row) => row.id === u.id);
      if (!r || r.state !== 'running' || r.owner !== this.owner) continue;
      if (u.type === 'progress') {
        r.progress = u.progress;
        continue;
      }
      release(r);
      if (u.type === 'succeeded') Object.assign(r, { state: 'succeeded', result: u.result, finishedAt: now });
      if (u.type === 'failed' || u.type === 'cancelled') Object.assign(r, { state: u.type, errors: append(r.errors, u.error), finishedAt: now });
      if (u.type === 'retry') Object.assign(r, { state: u.runAt > now ? 'scheduled' : 'pending', runAt: u.runAt, errors: append(r.errors, u.error) });
      if (u.type === 'handBack') Object.assign(r, { state: 'pending', attempts: Math.max(0, r.attempts - 1) });
    }
  }

  renew(now: number): string[] {
    const mine = this.rows.filter((r) => r.state === 'running' && r.owner === this.owner);
    for (const r of mine) r.leaseUntil = now + this.leaseMs;
    return mine.filter((r) => r.cancelRequested).map((r) => r.id).toSorted();
  }

  recover(now: number): RecoveryResult {
    const result: RecoveryResult = { requeued: [], failed: [] };
    const orphans = this.rows.filter((r) => r.state === 'running' && (r.owner !== this.owner || r.leaseUntil < now)).toSorted((a, b) => (a.id < b.id ? -1 : 1));
    for (const r of orphans) {
      release(r);
      r.attempts = Math.max(0, r.attempts - 1);
      r.stalls++;
      if (r.stalls > this.maxStalls) {
        const message = `Job ${r.id} "${r.name}" was orphaned ${r.stalls} times (its process died while running it); maxStalls is ${this.maxStalls}`;
        Object.assign(r, { state: 'failed', finishedAt: now, errors: append(r.errors, { attempt: r.attempts, name: 'JobStalledError', message, at: now }) });
        result.failed.push(plain(r));
      } else {
        r.state = 'pending';
        result.requeued.push(plain(r));
      }
    }
    return result;
  }

  cancel(id: string, error: StoredJobError, now: number): 'cancelled' | 'requested' | false {
    const r = this.rows.find((row) => row.id === id);
    if (r?.state === 'scheduled' || r?.state === 'pending') {
      release(r);
      Object.assign(r, { state: 'cancelled', finishedAt: now, errors: append(r.errors, error) });
      return 'cancelled';
    }
    if (r?.state === 'running') {
      r.cancelRequested = true;
      return 'requested';
    }
    return false;
  }

  retry(id: string, now: number): boolean {
    const r = this.rows.find((row) => row.id === id);
    if (!r || (r.state !== 'failed' && r.state !== 'cancelled')) return false;
    if (r.key !== null && this.rows.some((o) => o.queue === r.queue && o.key === r.key && ACTIVE.includes(o.state))) return false;
    Object.assign(r, { state: 'pending', attempts: 0, stalls: 0, runAt: now, finishedAt: null, held: false });
    return true;
  }

  sweep(now: number): number {
    const before = this.rows.length;
    this.rows = this.rows.filter((r) => !(ENDED.includes(r.state) && r.finishedAt! <= now - this.retention[r.state as 'failed']));
    return before - this.rows.length;
  }

  /** By id, as `list()` answers (ids may come out of order: a schedule's jobs have ids of their own). */
  all(): StoredJob[] {
    return this.rows.toSorted((a, b) => (a.id < b.id ? -1 : 1)).map(plain);
  }

  counts(queue?: string): Record<JobState, number> {
    const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const r of this.rows) if (queue === undefined || r.queue === queue) counts[r.state]++;
    return counts;
  }

  countsByQueue(states: readonly JobState[] = JOB_STATES): Record<string, Partial<Record<JobState, number>>> {
    const out: Record<string, Partial<Record<JobState, number>>> = {};
    for (const r of this.rows) {
      if (!states.includes(r.state)) continue;
      out[r.queue] ??= Object.fromEntries(states.map((s) => [s, 0]));
      out[r.queue][r.state]!++;
    }
    return out;
  }

  list(filter: StoreListFilter): StoredJob[] {
    const descending = filter.order === 'desc';
    return this.rows
      .filter(
        (r) =>
          (filter.queue === undefined || r.queue === filter.queue) &&
          (filter.name === undefined || r.name === filter.name) &&
          (filter.key === undefined || r.key === filter.key) &&
          (filter.states === undefined || filter.states.includes(r.state)) &&
          (filter.after === undefined || (descending ? r.id < filter.after : r.id > filter.after)),
      )
      .toSorted((a, b) => (a.id < b.id ? -1 : 1) * (descending ? -1 : 1))
      .slice(0, filter.limit)
      .map(plain);
  }

  nextRunAt(queue: string, names: readonly string[]): number | undefined {
    const times = this.rows.filter((r) => r.state === 'scheduled' && r.queue === queue && names.includes(r.name)).map((r) => r.runAt);
    return times.length === 0 ? undefined : Math.min(...times);
  }

  upsertSchedule(schedule: NewSchedule, now: number): StoredSchedule {
    const stored = this.schedules.find((x) => x.id === schedule.id);
    const keep = stored !== undefined && stored.cron === schedule.cron && stored.tz === schedule.tz && stored.nextRunAt !== null;
    const row: StoredSchedule = {
      ...schedule,
      nextRunAt: keep ? stored.nextRunAt : schedule.nextRunAt,
      lastJobId: stored?.lastJobId ?? null,
      createdAt: stored?.createdAt ?? now,
      updatedAt: now,
    };
    this.schedules = [...this.schedules.filter((x) => x.id !== schedule.id), row];
    return { ...row };
  }

  removeSchedule(id: string): boolean {
    const before = this.schedules.length;
    this.schedules = this.schedules.filter((x) => x.id !== id);
    return this.schedules.length < before;
  }

  listSchedules(): StoredSchedule[] {
    return this.schedules.toSorted((a, b) => (a.id < b.id ? -1 : 1)).map((x) => ({ ...x }));
  }

  fireDue(now: number, planner: SchedulePlanner): FireResult {
    const due = this.schedules.filter((x) => x.nextRunAt !== null && x.nextRunAt <= now).toSorted((a, b) => a.nextRunAt! - b.nextRunAt! || (a.id < b.id ? -1 : 1));
    const fired = due.map((schedule) => {
      const last = this.rows.find((r) => r.id === schedule.lastJobId);
      const plan = planner({ ...schedule }, now, last !== undefined && ACTIVE.includes(last.state));
      const jobs = this.insert(plan.jobs, now);
      if (jobs.length > 0) schedule.lastJobId = jobs.at(-1)!.job.id;
      schedule.nextRunAt = plan.nextRunAt;
      return { schedule: { ...schedule }, plan, jobs };
    });
    const times = this.schedules.filter((x) => x.nextRunAt !== null).map((x) => x.nextRunAt!);
    return { fired, nextAt: times.length === 0 ? undefined : Math.min(...times) };
  }

  oldestPending(queue?: string): number | undefined {
    const times = this.rows.filter((r) => r.state === 'pending' && (queue === undefined || r.queue === queue)).map((r) => r.runAt);
    return times.length === 0 ? undefined : Math.min(...times);
  }
}

function release(r: ModelRow): void {
  Object.assign(r, { owner: null, leaseUntil: 0, cancelRequested: false });
}

function append(errors: string, error: StoredJobError): string {
  return JSON.stringify([...(JSON.parse(errors) as StoredJobError[]), error]);
}

function plain(r: ModelRow): StoredJob {
  const { owner: _o, leaseUntil: _l, cancelRequested: _c, held: _h, ...job } = r;
  return { ...job };
}
