import { setImmediate as nextTurn } from 'node:timers/promises';
import { checkNumber, checkObject } from '../../validation.js';
import { JOB_STATES, type JobState } from '../job.types.js';
import type {
  ClaimedJob,
  FireResult,
  FiredSchedule,
  InsertResult,
  JobStore,
  JobUpdate,
  NewJob,
  NewSchedule,
  SchedulePlanner,
  StoredSchedule,
  RecoveryResult,
  StoreListFilter,
  StoreOpenContext,
  StoreSettings,
  StoredJob,
  StoredJobError,
} from './job-store.js';

export interface RetentionOptions {
  /** Milliseconds to keep succeeded jobs. Default 24 h. */
  succeeded?: number;
  /** Default 24 h. */
  cancelled?: number;
  /** Default 7 days. */
  failed?: number;
}

export interface MemoryStoreOptions {
  /** Default 30_000. */
  leaseMs?: number;
  /** Default 2. */
  maxStalls?: number;
  retention?: RetentionOptions;
}

const HOUR = 3_600_000;
export const DEFAULT_RETENTION = { succeeded: 24 * HOUR, cancelled: 24 * HOUR, failed: 7 * 24 * HOUR } as const;
const ACTIVE: ReadonlySet<JobState> = new Set(['scheduled', 'pending', 'running']);
type EndState = 'succeeded' | 'failed' | 'cancelled';
/** Rows the sweep deletes between two turns of the event loop. */
const SWEEP_BATCH = 10_000;

/** Validates `retention` and fills its defaults (shared with the SQLite store). */
export function resolveRetention(path: string, value: unknown): StoreSettings['retention'] {
  const r = value === undefined ? {} : checkObject(path, value, ['succeeded', 'cancelled', 'failed']);
  const each = (key: EndState): number =>
    r[key] === undefined ? DEFAULT_RETENTION[key] : checkNumber(`${path}.${key}`, r[key], { min: 0, infinity: true });
  return { succeeded: each('succeeded'), cancelled: each('cancelled'), failed: each('failed') };
}

interface Row extends StoredJob {
  owner: string | null;
  leaseUntil: number;
  cancelRequested: boolean;
  /** Its place in the one heap of its state (-1: none); the pending by-age heap and its group's heap have their own. */
  slot: number;
  ageSlot: number;
  groupSlot: number;
  /** Swept: its place in the id order is a hole until the next compaction. */
  gone?: boolean;
}

/**
 * A binary min-heap of rows that knows where each row is (`slot` or `ageSlot`), so a row that leaves its state
 * leaves the heap at once in O(log n): no stale entries, so memory stays flat however many jobs pass through.
 */
class RowHeap {
  private readonly rows: Row[] = [];

  constructor(
    private readonly before: (a: Row, b: Row) => boolean,
    private readonly slot: 'slot' | 'ageSlot' | 'groupSlot' = 'slot',
  ) {}

  get size(): number {
    return this.rows.length;
  }

  peek(): Row | undefined {
    return this.rows[0];
  }

  push(row: Row): void {
    this.rows.push(row);
    row[this.slot] = this.rows.length - 1;
    this.up(this.rows.length - 1);
  }

  remove(row: Row): void {
    const i = row[this.slot];
    const last = this.rows.pop()!;
    row[this.slot] = -1;
    if (last === row) return;
    this.rows[i] = last;
    last[this.slot] = i;
    this.up(i);
    this.down(last[this.slot]);
  }

  private up(i: number): void {
    const rows = this.rows;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(rows[i], rows[parent])) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const rows = this.rows;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < rows.length && this.before(rows[l], rows[m])) m = l;
      if (r < rows.length && this.before(rows[r], rows[m])) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(i: number, j: number): void {
    const rows = this.rows;
    [rows[i], rows[j]] = [rows[j], rows[i]];
    rows[i][this.slot] = i;
    rows[j][this.slot] = j;
  }
}

const byId = (a: Row, b: Row): boolean => a.id < b.id;
/** Claim order, as the SQLite store's index: higher priority, then earlier runAt, then lower id. */
const claimOrder = (a: Row, b: Row): boolean => (a.priority !== b.priority ? a.priority > b.priority : a.runAt !== b.runAt ? a.runAt < b.runAt : byId(a, b));
const runAtOrder = (a: Row, b: Row): boolean => (a.runAt !== b.runAt ? a.runAt < b.runAt : byId(a, b));
const finishedOrder = (a: Row, b: Row): boolean => (a.finishedAt! !== b.finishedAt! ? a.finishedAt! < b.finishedAt! : byId(a, b));

/**
 * Rows sorted by id, for pages from a cursor in either direction: a binary search finds the cursor, so a page
 * costs its own rows, not a walk from the first one. Ids come ascending (they are time-ordered), so adding is a
 * push; a removed row leaves a hole that later walks skip, and the holes go once they are half of the array.
 */
class IdOrder {
  private rows: Row[] = [];
  private holes = 0;

  add(row: Row): void {
    const last = this.rows.at(-1);
    if (last === undefined || last.id < row.id) this.rows.push(row);
    else this.rows.splice(this.firstAbove(row.id), 0, row); // a caller's own ids, out of order
  }

  remove(row: Row): void {
    row.gone = true;
    if (++this.holes > 1_024 && this.holes * 2 > this.rows.length) {
      this.rows = this.rows.filter((r) => !r.gone);
      this.holes = 0;
    }
  }

  /** Rows after `cursor` (exclusive) in id order, or before it newest first. */
  *from(cursor: string | undefined, descending: boolean): Generator<Row> {
    const rows = this.rows;
    if (descending) {
      for (let i = (cursor === undefined ? rows.length : this.firstAtOrAbove(cursor)) - 1; i >= 0; i--) if (!rows[i].gone) yield rows[i];
    } else {
      for (let i = cursor === undefined ? 0 : this.firstAbove(cursor); i < rows.length; i++) if (!rows[i].gone) yield rows[i];
    }
  }

  private firstAbove(id: string): number {
    let lo = 0;
    let hi = this.rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.rows[mid].id <= id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private firstAtOrAbove(id: string): number {
    let lo = 0;
    let hi = this.rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.rows[mid].id < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * One group of one queue (see JobStore.claim): its pending rows in claim order and the row that holds it. Only
 * its head is in the name heaps that claims read, so a claim never walks past the waiting jobs of a busy group.
 */
class GroupIndex {
  readonly pending = new RowHeap(claimOrder, 'groupSlot');
  /** Claimed last and not ended. */
  holder: Row | undefined = undefined;
  /** The row of the group that is in its name's pending heap, if any. */
  head: Row | undefined = undefined;
}

/** One queue's indexes: what SQLite's partial indexes are to the SQLite store. */
class QueueIndex {
  /** Pending rows by name, in claim order (of a group, only its head): a name no process handles is never walked past. */
  readonly pending = new Map<string, RowHeap>();
  readonly groups = new Map<string, GroupIndex>();
  readonly scheduled = new Map<string, RowHeap>();
  /** Pending rows by runAt, for oldestPending. */
  readonly age = new RowHeap(runAtOrder, 'ageSlot');
  readonly counts = Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as Record<JobState, number>;

  heap(of: 'pending' | 'scheduled', name: string): RowHeap {
    const map = this[of];
    let heap = map.get(name);
    if (heap === undefined) map.set(name, (heap = new RowHeap(of === 'pending' ? claimOrder : runAtOrder)));
    return heap;
  }

  group(name: string): GroupIndex {
    let group = this.groups.get(name);
    if (group === undefined) this.groups.set(name, (group = new GroupIndex()));
    return group;
  }

  /** Puts the group's head (its holder when pending, else its first pending row when none holds it) in the claims' view. */
  pickHead(name: string, group: GroupIndex): void {
    const head = group.holder !== undefined ? (group.holder.state === 'pending' ? group.holder : undefined) : group.pending.peek();
    if (head !== group.head) {
      if (group.head !== undefined) this.pending.get(group.head.name)!.remove(group.head);
      if (head !== undefined) this.heap('pending', head.name).push(head);
      group.head = head;
    }
    if (group.holder === undefined && group.pending.size === 0) this.groups.delete(name);
  }
}

/**
 * Jobs in this process's memory, with the same API and semantics as the SQLite store: for tests, and for apps
 * that want jobs' handlers and options without a file. Nothing survives the process, so at shutdown pending jobs
 * drain like queue items. Claims, settles and sweeps are O(log n) a job.
 */
class MemoryStore implements JobStore {
  readonly description = 'memory';
  readonly durable = false;
  readonly capabilities = { groups: true };
  readonly settings: StoreSettings;
  private readonly rows = new Map<string, Row>();
  /** Every row by id, for `list`'s pages in either direction. */
  private readonly byId = new IdOrder();
  private readonly queues = new Map<string, QueueIndex>();
  private readonly running = new Set<Row>();
  private readonly ended: Record<EndState, RowHeap> = {
    succeeded: new RowHeap(finishedOrder),
    failed: new RowHeap(finishedOrder),
    cancelled: new RowHeap(finishedOrder),
  };
  /** `queue\0key` of active jobs. */
  private readonly keys = new Map<string, Row>();
  private owner = '';
  private phase: 'new' | 'open' | 'closed' = 'new';
  private readonly schedules = new Map<string, StoredSchedule>();

  constructor(settings: StoreSettings) {
    this.settings = settings;
  }

  async open(context: StoreOpenContext): Promise<void> {
    if (this.phase === 'open') throw new Error('memory store is already open');
    this.owner = context.owner;
    this.phase = 'open';
  }

  async close(): Promise<void> {
    // The rows stay: what this owner still runs is orphaned for the next open of the same store (two apps in one test).
    if (this.phase !== 'closed') this.phase = 'closed';
  }

  async insert(jobs: readonly NewJob[], now: number): Promise<InsertResult[]> {
    this.check();
    return this.insertNow(jobs, now);
  }

  private insertNow(jobs: readonly NewJob[], now: number): InsertResult[] {
    // All or nothing: refuse a duplicate id before anything changes.
    const ids = new Set<string>();
    for (const job of jobs) {
      if (this.rows.has(job.id) || ids.has(job.id)) throw new Error(`memory store: insert failed: a job with id ${job.id} exists`);
      ids.add(job.id);
    }
    const results: InsertResult[] = [];
    for (const job of jobs) {
      const existing = job.key === null ? undefined : this.keys.get(keyOf(job.queue, job.key));
      if (existing !== undefined) {
        results.push({ job: copy(existing), created: false });
        continue;
      }
      const row: Row = {
        id: job.id,
        name: job.name,
        queue: job.queue,
        state: 'pending',
        payload: job.payload,
        key: job.key,
        group: job.group,
        priority: job.priority,
        attempts: 0,
        maxAttempts: job.maxAttempts,
        stalls: 0,
        runAt: job.runAt,
        createdAt: job.createdAt,
        startedAt: null,
        finishedAt: null,
        progress: null,
        result: null,
        errors: '[]',
        options: job.options,
        trace: job.trace,
        owner: null,
        leaseUntil: 0,
        cancelRequested: false,
        slot: -1,
        ageSlot: -1,
        groupSlot: -1,
      };
      this.rows.set(row.id, row);
      this.byId.add(row);
      this.enter(row, job.runAt > now ? 'scheduled' : 'pending');
      results.push({ job: copy(row), created: true });
    }
    return results;
  }

  async claim(queue: string, names: readonly string[], limit: number, now: number): Promise<ClaimedJob[]> {
    this.check();
    const index = this.queues.get(queue);
    if (index === undefined || names.length === 0 || limit < 1) return [];
    this.promote(index, now);
    const heaps = [...new Set(names)].map((name) => index.pending.get(name)).filter((heap) => heap !== undefined);
    const claimed: StoredJob[] = [];
    // A pending row whose runAt is still ahead (only when callers' clocks disagree) is set aside, not claimed.
    const aside: Row[] = [];
    while (claimed.length < limit) {
      let best: Row | undefined;
      for (const heap of heaps) {
        const top = heap.peek();
        if (top !== undefined && (best === undefined || claimOrder(top, best))) best = top;
      }
      if (best === undefined) break;
      this.leave(best);
      if (best.runAt > now) {
        aside.push(best);
        continue;
      }
      best.attempts++;
      best.startedAt = now;
      best.owner = this.owner;
      best.leaseUntil = now + this.settings.leaseMs;
      best.cancelRequested = false;
      this.enter(best, 'running');
      claimed.push(copy(best));
    }
    for (const row of aside) this.enter(row, 'pending');
    return claimed;
  }

  async settle(updates: readonly JobUpdate[], now: number): Promise<void> {
    this.check();
    for (const update of updates) {
      const row = this.rows.get(update.id);
      if (row === undefined || row.state !== 'running' || row.owner !== this.owner) continue;
      if (update.type === 'progress') {
        row.progress = update.progress;
        continue;
      }
      this.leave(row);
      release(row);
      switch (update.type) {
        case 'succeeded':
          row.result = update.result;
          row.finishedAt = now;
          this.enter(row, 'succeeded');
          break;
        case 'failed':
        case 'cancelled':
          row.errors = appendError(row.errors, update.error);
          row.finishedAt = now;
          this.enter(row, update.type);
          break;
        case 'retry':
          row.errors = appendError(row.errors, update.error);
          row.runAt = update.runAt;
          this.enter(row, update.runAt > now ? 'scheduled' : 'pending');
          break;
        case 'handBack':
          row.attempts = Math.max(0, row.attempts - 1);
          this.enter(row, 'pending');
          break;
      }
    }
  }

  async renew(now: number): Promise<string[]> {
    this.check();
    const cancelled: string[] = [];
    for (const row of this.running) {
      if (row.owner !== this.owner) continue;
      row.leaseUntil = now + this.settings.leaseMs;
      if (row.cancelRequested) cancelled.push(row.id);
    }
    return cancelled.toSorted();
  }

  async recover(now: number): Promise<RecoveryResult> {
    this.check();
    const { maxStalls } = this.settings;
    // Only this store's current owner is alive: earlier owners closed (or their app was thrown away).
    const orphans = [...this.running].filter((row) => row.owner !== this.owner || row.leaseUntil < now).toSorted((a, b) => (a.id < b.id ? -1 : 1));
    const result: RecoveryResult = { requeued: [], failed: [] };
    for (const row of orphans) {
      this.leave(row);
      release(row);
      row.attempts = Math.max(0, row.attempts - 1);
      row.stalls++;
      if (row.stalls > maxStalls) {
        row.errors = appendError(row.errors, {
          attempt: row.attempts,
          name: 'JobStalledError',
          message: `Job ${row.id} "${row.name}" was orphaned ${row.stalls} times (its process died while running it); maxStalls is ${maxStalls}`,
          at: now,
        });
        row.finishedAt = now;
        this.enter(row, 'failed');
        result.failed.push(copy(row));
      } else {
        this.enter(row, 'pending');
        result.requeued.push(copy(row));
      }
    }
    return result;
  }

  async get(id: string): Promise<StoredJob | undefined> {
    this.check();
    const row = this.rows.get(id);
    return row === undefined ? undefined : copy(row);
  }

  async list(filter: StoreListFilter): Promise<StoredJob[]> {
    this.check();
    const states = filter.states === undefined ? undefined : new Set(filter.states);
    const matches = (row: Row): boolean =>
      (filter.queue === undefined || row.queue === filter.queue) &&
      (filter.name === undefined || row.name === filter.name) &&
      (filter.key === undefined || row.key === filter.key) &&
      (states === undefined || states.has(row.state));
    const out: StoredJob[] = [];
    for (const row of this.byId.from(filter.after, filter.order === 'desc')) {
      if (out.length >= filter.limit) break;
      if (matches(row)) out.push(copy(row));
    }
    return out;
  }

  async cancel(id: string, error: StoredJobError, now: number): Promise<'cancelled' | 'requested' | false> {
    this.check();
    const row = this.rows.get(id);
    if (row?.state === 'scheduled' || row?.state === 'pending') {
      this.leave(row);
      release(row);
      row.errors = appendError(row.errors, error);
      row.finishedAt = now;
      this.enter(row, 'cancelled');
      return 'cancelled';
    }
    if (row?.state === 'running') {
      row.cancelRequested = true;
      return 'requested';
    }
    return false;
  }

  async retry(id: string, now: number): Promise<boolean> {
    this.check();
    const row = this.rows.get(id);
    if (row === undefined || (row.state !== 'failed' && row.state !== 'cancelled')) return false;
    // Another active job holds the key now: this one cannot be active beside it.
    if (row.key !== null && this.keys.has(keyOf(row.queue, row.key))) return false;
    this.leave(row);
    row.attempts = 0;
    row.stalls = 0;
    row.runAt = now;
    row.finishedAt = null;
    this.enter(row, 'pending');
    return true;
  }

  async counts(queue?: string): Promise<Record<JobState, number>> {
    this.check();
    const counts = Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as Record<JobState, number>;
    for (const [name, index] of this.queues) {
      if (queue !== undefined && name !== queue) continue;
      for (const state of JOB_STATES) counts[state] += index.counts[state];
    }
    return counts;
  }

  async countsByQueue(states: readonly JobState[] = JOB_STATES): Promise<Record<string, Partial<Record<JobState, number>>>> {
    this.check();
    const out: Record<string, Partial<Record<JobState, number>>> = {};
    for (const [name, index] of this.queues) {
      if (states.some((state) => index.counts[state] > 0)) out[name] = Object.fromEntries(states.map((state) => [state, index.counts[state]]));
    }
    return out;
  }

  async nextRunAt(queue: string, names: readonly string[]): Promise<number | undefined> {
    this.check();
    const index = this.queues.get(queue);
    let next: number | undefined;
    for (const name of names) {
      const top = index?.scheduled.get(name)?.peek();
      if (top !== undefined && (next === undefined || top.runAt < next)) next = top.runAt;
    }
    return next;
  }

  async oldestPending(queue?: string): Promise<number | undefined> {
    this.check();
    let oldest: number | undefined;
    for (const [name, index] of this.queues) {
      if (queue !== undefined && name !== queue) continue;
      const top = index.age.peek();
      if (top !== undefined && (oldest === undefined || top.runAt < oldest)) oldest = top.runAt;
    }
    return oldest;
  }

  async sweep(now: number): Promise<number> {
    this.check();
    let removed = 0;
    for (const state of ['succeeded', 'cancelled', 'failed'] as const) {
      const keep = this.settings.retention[state];
      const heap = this.ended[state];
      for (let top = heap.peek(); top !== undefined && top.finishedAt! <= now - keep; top = heap.peek()) {
        this.leave(top);
        this.rows.delete(top.id);
        this.byId.remove(top);
        // A long sweep lets the event loop breathe; a close() in between ends it (what is left goes next time).
        if (++removed % SWEEP_BATCH === 0) {
          await nextTurn();
          if (this.phase !== 'open') return removed;
        }
      }
    }
    return removed;
  }

  // ---- schedules ------------------------------------------------------------------------------------------------

  async upsertSchedule(schedule: NewSchedule, now: number): Promise<StoredSchedule> {
    this.check();
    const stored = this.schedules.get(schedule.id);
    const keep = stored !== undefined && stored.cron === schedule.cron && stored.tz === schedule.tz && stored.nextRunAt !== null;
    const row: StoredSchedule = {
      ...schedule,
      nextRunAt: keep ? stored.nextRunAt : schedule.nextRunAt,
      lastJobId: keep ? stored.lastJobId : (stored?.lastJobId ?? null),
      createdAt: stored?.createdAt ?? now,
      updatedAt: now,
    };
    this.schedules.set(row.id, row);
    return { ...row };
  }

  async removeSchedule(id: string): Promise<boolean> {
    this.check();
    return this.schedules.delete(id);
  }

  async listSchedules(): Promise<StoredSchedule[]> {
    this.check();
    return [...this.schedules.values()].toSorted((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((row) => ({ ...row }));
  }

  async fireDue(now: number, planner: SchedulePlanner): Promise<FireResult> {
    this.check();
    const due = [...this.schedules.values()]
      .filter((row) => row.nextRunAt !== null && row.nextRunAt <= now)
      .toSorted((a, b) => a.nextRunAt! - b.nextRunAt! || (a.id < b.id ? -1 : 1));
    const fired: FiredSchedule[] = [];
    for (const row of due) {
      const last = row.lastJobId === null ? undefined : this.rows.get(row.lastJobId);
      const plan = planner({ ...row }, now, last !== undefined && ACTIVE.has(last.state));
      const jobs = this.insertNow(plan.jobs, now);
      if (jobs.length > 0) row.lastJobId = jobs.at(-1)!.job.id;
      row.nextRunAt = plan.nextRunAt;
      fired.push({ schedule: { ...row }, plan, jobs });
    }
    let nextAt: number | undefined;
    for (const row of this.schedules.values()) {
      if (row.nextRunAt !== null && (nextAt === undefined || row.nextRunAt < nextAt)) nextAt = row.nextRunAt;
    }
    return { fired, nextAt };
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  private check(): void {
    if (this.phase === 'closed') throw new Error('memory store is closed');
    if (this.phase === 'new') throw new Error('memory store is not open (call open() first)');
  }

  /** Puts `row` in `state` and in that state's indexes. Fields that order an index must be set before. */
  private enter(row: Row, state: JobState): void {
    let index = this.queues.get(row.queue);
    if (index === undefined) this.queues.set(row.queue, (index = new QueueIndex()));
    row.state = state;
    index.counts[state]++;
    const group = row.group === null ? undefined : index.group(row.group);
    switch (state) {
      case 'pending':
        if (group === undefined) index.heap('pending', row.name).push(row);
        else group.pending.push(row);
        index.age.push(row);
        break;
      case 'scheduled':
        index.heap('scheduled', row.name).push(row);
        break;
      case 'running':
        this.running.add(row);
        if (group !== undefined) group.holder = row;
        break;
      default:
        this.ended[state].push(row);
        if (group?.holder === row) group.holder = undefined;
    }
    if (row.key !== null && ACTIVE.has(state)) this.keys.set(keyOf(row.queue, row.key), row);
    if (group !== undefined) index.pickHead(row.group!, group);
  }

  /** Takes `row` out of its state's indexes (its state field stays until `enter`). */
  private leave(row: Row): void {
    const index = this.queues.get(row.queue)!;
    index.counts[row.state]--;
    switch (row.state) {
      case 'pending':
        if (row.group === null) index.pending.get(row.name)!.remove(row);
        else {
          // Its group has no head until the row enters its next state (a claim's loop sees the group as busy).
          const group = index.groups.get(row.group)!;
          group.pending.remove(row);
          if (group.head === row) {
            index.pending.get(row.name)!.remove(row);
            group.head = undefined;
          }
        }
        index.age.remove(row);
        break;
      case 'scheduled':
        index.scheduled.get(row.name)!.remove(row);
        break;
      case 'running':
        this.running.delete(row);
        break;
      default:
        this.ended[row.state].remove(row);
    }
    if (row.key !== null && this.keys.get(keyOf(row.queue, row.key)) === row) this.keys.delete(keyOf(row.queue, row.key));
  }

  /** Due scheduled jobs of the queue (every name, as SQLite's one UPDATE) become pending. */
  private promote(index: QueueIndex, now: number): void {
    for (const heap of index.scheduled.values()) {
      for (let top = heap.peek(); top !== undefined && top.runAt <= now; top = heap.peek()) {
        this.leave(top);
        this.enter(top, 'pending');
      }
    }
  }
}

function keyOf(queue: string, key: string): string {
  return `${queue}\u0000${key}`;
}

function release(row: Row): void {
  row.owner = null;
  row.leaseUntil = 0;
  row.cancelRequested = false;
}

function appendError(errors: string, error: StoredJobError): string {
  const text = JSON.stringify(error);
  return errors === '[]' ? `[${text}]` : `${errors.slice(0, -1)},${text}]`;
}

function copy(row: Row): StoredJob {
  return {
    id: row.id,
    name: row.name,
    queue: row.queue,
    state: row.state,
    payload: row.payload,
    key: row.key,
    group: row.group,
    priority: row.priority,
    attempts: row.attempts,
    maxAttempts: row.maxAttempts,
    stalls: row.stalls,
    runAt: row.runAt,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    progress: row.progress,
    result: row.result,
    errors: row.errors,
    options: row.options,
    trace: row.trace,
  };
}

/** Jobs kept in this process's memory: the same API and semantics as `sqliteStore`, and nothing survives the process. */
export function memoryStore(options?: MemoryStoreOptions): JobStore {
  const path = 'memoryStore options';
  const o = options === undefined ? {} : checkObject(path, options, ['leaseMs', 'maxStalls', 'retention']);
  return new MemoryStore({
    leaseMs: o.leaseMs === undefined ? 30_000 : checkNumber(`${path}.leaseMs`, o.leaseMs, { min: 1_000, max: 2_147_483_647 }),
    maxStalls: o.maxStalls === undefined ? 2 : checkNumber(`${path}.maxStalls`, o.maxStalls, { min: 0, max: 1_000 }),
    pollMs: undefined,
    retention: resolveRetention(`${path}.retention`, o.retention),
  });
}
