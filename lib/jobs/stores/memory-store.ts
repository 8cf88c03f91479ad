import { Deque } from '../../queue/deque.js';
import { checkNumber, checkObject } from '../../validation.js';
import { JOB_STATES, type JobState } from '../job.types.js';
import type {
  InsertResult,
  JobStore,
  JobUpdate,
  NewJob,
  RecoveryResult,
  StoreListFilter,
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

/** Validates `retention` and fills its defaults (shared with the SQLite store). */
export function resolveRetention(path: string, value: unknown): StoreSettings['retention'] {
  const r = value === undefined ? {} : checkObject(path, value, ['succeeded', 'cancelled', 'failed']);
  const each = (key: 'succeeded' | 'cancelled' | 'failed'): number =>
    r[key] === undefined ? DEFAULT_RETENTION[key] : checkNumber(`${path}.${key}`, r[key], { min: 0, infinity: true });
  return { succeeded: each('succeeded'), cancelled: each('cancelled'), failed: each('failed') };
}

interface Row extends StoredJob {
  owner: string | null;
  leaseUntil: number;
  cancelRequested: boolean;
}

/** Pending ids of one queue: one ring buffer per priority, highest first; ended or moved ids are skipped lazily. */
class PendingIndex {
  private readonly buckets = new Map<number, Deque<string>>();
  private order: number[] = [];

  push(priority: number, id: string): void {
    let bucket = this.buckets.get(priority);
    if (bucket === undefined) {
      bucket = new Deque<string>();
      this.buckets.set(priority, bucket);
      this.order = [...this.buckets.keys()].toSorted((a, b) => b - a);
    }
    bucket.push(id);
  }

  /** Takes up to `limit` ids for which `take(id)` is true; ids it refuses but keeps (`keep`) stay in place. */
  take(limit: number, accept: (id: string) => 'take' | 'drop' | 'keep'): string[] {
    const taken: string[] = [];
    for (const priority of this.order) {
      const bucket = this.buckets.get(priority)!;
      const kept: string[] = [];
      while (taken.length < limit && bucket.length > 0) {
        const id = bucket.shift()!;
        const verdict = accept(id);
        if (verdict === 'take') taken.push(id);
        else if (verdict === 'keep') kept.push(id);
      }
      for (let i = kept.length - 1; i >= 0; i--) bucket.unshift(kept[i]);
      if (taken.length >= limit) break;
    }
    return taken;
  }
}

/** A binary min-heap of scheduled jobs by run time. */
class ScheduleHeap {
  private readonly heap: { at: number; id: string }[] = [];

  push(at: number, id: string): void {
    const heap = this.heap;
    heap.push({ at, id });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent].at <= heap[i].at) break;
      [heap[parent], heap[i]] = [heap[i], heap[parent]];
      i = parent;
    }
  }

  peek(): { at: number; id: string } | undefined {
    return this.heap[0];
  }

  pop(): { at: number; id: string } | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && heap[l].at < heap[m].at) m = l;
        if (r < heap.length && heap[r].at < heap[m].at) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i], heap[m]];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Jobs in this process's memory, with the same API and semantics as the SQLite store: for tests, and for apps
 * that want jobs' handlers and options without a file. Nothing survives the process, so at shutdown pending jobs
 * drain like queue items.
 */
class MemoryStore implements JobStore {
  readonly description = 'memory';
  readonly durable = false;
  readonly settings: StoreSettings;
  /** Insertion order is id order (ids are time-ordered): `list` walks it. */
  private readonly rows = new Map<string, Row>();
  private readonly pending = new Map<string, PendingIndex>();
  private readonly scheduled = new Map<string, ScheduleHeap>();
  private readonly keys = new Map<string, string>();
  private owner: string | undefined = undefined;
  private closed = false;

  constructor(settings: StoreSettings) {
    this.settings = settings;
  }

  async open(context: { owner: string }): Promise<void> {
    this.owner = context.owner;
    this.closed = false;
  }

  async close(): Promise<void> {
    this.closed = true;
    // Whatever this owner still runs is orphaned for the next open of the same store (two apps in one test).
    this.owner = undefined;
  }

  async insert(jobs: readonly NewJob[], now: number): Promise<InsertResult[]> {
    this.check();
    const results: InsertResult[] = [];
    for (const job of jobs) {
      const keyId = job.key === null ? undefined : this.keys.get(`${job.queue}\u0000${job.key}`);
      const existing = keyId === undefined ? undefined : this.rows.get(keyId);
      if (existing !== undefined && ACTIVE.has(existing.state)) {
        results.push({ job: copy(existing), created: false });
        continue;
      }
      const row: Row = {
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
      };
      this.rows.set(row.id, row);
      if (job.key !== null) this.keys.set(`${job.queue}\u0000${job.key}`, row.id);
      this.index(row);
      results.push({ job: copy(row), created: true });
    }
    return results;
  }

  async claim(queue: string, names: readonly string[], limit: number, now: number): Promise<StoredJob[]> {
    this.check();
    this.promote(queue, now);
    const index = this.pending.get(queue);
    if (index === undefined) return [];
    const handled = names.length === 1 ? undefined : new Set(names);
    const ids = index.take(limit, (id) => {
      const row = this.rows.get(id);
      if (row === undefined || row.state !== 'pending' || row.queue !== queue) return 'drop';
      return (handled === undefined ? row.name === names[0] : handled.has(row.name)) ? 'take' : 'keep';
    });
    return ids.map((id) => {
      const row = this.rows.get(id)!;
      row.state = 'running';
      row.attempts++;
      row.startedAt = now;
      row.owner = this.owner ?? null;
      row.leaseUntil = now + this.settings.leaseMs;
      row.cancelRequested = false;
      return copy(row);
    });
  }

  async settle(updates: readonly JobUpdate[], now: number): Promise<void> {
    this.check();
    for (const update of updates) {
      const row = this.rows.get(update.id);
      if (row === undefined || row.state !== 'running' || row.owner !== this.owner) continue;
      switch (update.type) {
        case 'progress':
          row.progress = update.progress;
          break;
        case 'succeeded':
          this.end(row, 'succeeded', now);
          row.result = update.result;
          break;
        case 'failed':
        case 'cancelled':
          appendError(row, update.error);
          this.end(row, update.type, now);
          break;
        case 'retry':
          appendError(row, update.error);
          this.release(row);
          row.runAt = update.runAt;
          row.state = update.runAt > now ? 'scheduled' : 'pending';
          this.index(row);
          break;
        case 'handBack':
          this.release(row);
          row.attempts = Math.max(0, row.attempts - 1);
          row.state = 'pending';
          this.index(row);
          break;
      }
    }
  }

  async renew(now: number): Promise<string[]> {
    this.check();
    const cancelled: string[] = [];
    for (const row of this.rows.values()) {
      if (row.state !== 'running' || row.owner !== this.owner) continue;
      row.leaseUntil = now + this.settings.leaseMs;
      if (row.cancelRequested) cancelled.push(row.id);
    }
    return cancelled;
  }

  async recover(now: number): Promise<RecoveryResult> {
    this.check();
    const result: RecoveryResult = { requeued: [], failed: [] };
    for (const row of this.rows.values()) {
      if (row.state !== 'running' || (row.owner === this.owner && row.leaseUntil >= now)) continue;
      this.release(row);
      row.attempts = Math.max(0, row.attempts - 1);
      row.stalls++;
      if (row.stalls > this.settings.maxStalls) {
        appendError(row, {
          attempt: row.attempts,
          name: 'JobStalledError',
          message: `Job ${row.id} "${row.name}" was orphaned ${row.stalls} times (its process died while running it); maxStalls is ${this.settings.maxStalls}`,
          at: now,
        });
        this.end(row, 'failed', now);
        result.failed.push(copy(row));
      } else {
        row.state = 'pending';
        this.index(row);
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
    const out: StoredJob[] = [];
    for (const row of this.rows.values()) {
      if (filter.after !== undefined && row.id <= filter.after) continue;
      if (filter.queue !== undefined && row.queue !== filter.queue) continue;
      if (filter.name !== undefined && row.name !== filter.name) continue;
      if (states !== undefined && !states.has(row.state)) continue;
      out.push(copy(row));
      if (out.length >= filter.limit) break;
    }
    return out;
  }

  async cancel(id: string, error: StoredJobError, now: number): Promise<'cancelled' | 'requested' | false> {
    this.check();
    const row = this.rows.get(id);
    if (row === undefined) return false;
    if (row.state === 'scheduled' || row.state === 'pending') {
      appendError(row, error);
      this.end(row, 'cancelled', now);
      return 'cancelled';
    }
    if (row.state === 'running') {
      row.cancelRequested = true;
      return 'requested';
    }
    return false;
  }

  async retry(id: string, now: number): Promise<boolean> {
    this.check();
    const row = this.rows.get(id);
    if (row === undefined || (row.state !== 'failed' && row.state !== 'cancelled')) return false;
    if (row.key !== null) {
      const holder = this.rows.get(this.keys.get(`${row.queue}\u0000${row.key}`) ?? '');
      if (holder !== undefined && holder !== row && ACTIVE.has(holder.state)) return false; // its key is taken again
      this.keys.set(`${row.queue}\u0000${row.key}`, row.id);
    }
    row.state = 'pending';
    row.attempts = 0;
    row.stalls = 0;
    row.runAt = now;
    row.finishedAt = null;
    this.index(row);
    return true;
  }

  async counts(queue?: string): Promise<Record<JobState, number>> {
    this.check();
    const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const row of this.rows.values()) if (queue === undefined || row.queue === queue) counts[row.state]++;
    return counts;
  }

  async nextRunAt(queue: string, names: readonly string[]): Promise<number | undefined> {
    this.check();
    let next: number | undefined;
    for (const row of this.rows.values()) {
      if (row.state === 'scheduled' && row.queue === queue && names.includes(row.name) && (next === undefined || row.runAt < next)) next = row.runAt;
    }
    return next;
  }

  async oldestPending(queue?: string): Promise<number | undefined> {
    this.check();
    let oldest: number | undefined;
    for (const row of this.rows.values()) {
      if (row.state === 'pending' && (queue === undefined || row.queue === queue) && (oldest === undefined || row.runAt < oldest)) oldest = row.runAt;
    }
    return oldest;
  }

  async sweep(now: number): Promise<number> {
    this.check();
    let removed = 0;
    for (const row of this.rows.values()) {
      const keep = row.state === 'succeeded' || row.state === 'cancelled' || row.state === 'failed' ? this.settings.retention[row.state] : undefined;
      if (keep === undefined || row.finishedAt === null || now - row.finishedAt < keep) continue;
      this.rows.delete(row.id);
      if (row.key !== null && this.keys.get(`${row.queue}\u0000${row.key}`) === row.id) this.keys.delete(`${row.queue}\u0000${row.key}`);
      removed++;
    }
    return removed;
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  private check(): void {
    if (this.closed) throw new Error('memory store is closed');
  }

  private index(row: Row): void {
    if (row.state === 'pending') {
      let index = this.pending.get(row.queue);
      if (index === undefined) this.pending.set(row.queue, (index = new PendingIndex()));
      index.push(row.priority, row.id);
    } else if (row.state === 'scheduled') {
      let heap = this.scheduled.get(row.queue);
      if (heap === undefined) this.scheduled.set(row.queue, (heap = new ScheduleHeap()));
      heap.push(row.runAt, row.id);
    }
  }

  /** Due scheduled jobs of `queue` become pending. */
  private promote(queue: string, now: number): void {
    const heap = this.scheduled.get(queue);
    if (heap === undefined) return;
    for (let top = heap.peek(); top !== undefined && top.at <= now; top = heap.peek()) {
      heap.pop();
      const row = this.rows.get(top.id);
      if (row === undefined || row.state !== 'scheduled' || row.runAt !== top.at) continue; // moved since
      row.state = 'pending';
      this.index(row);
    }
  }

  private release(row: Row): void {
    row.owner = null;
    row.leaseUntil = 0;
    row.cancelRequested = false;
  }

  private end(row: Row, state: 'succeeded' | 'failed' | 'cancelled', now: number): void {
    this.release(row);
    row.state = state;
    row.finishedAt = now;
  }
}

function appendError(row: Row, error: StoredJobError): void {
  row.errors = row.errors === '[]' ? `[${JSON.stringify(error)}]` : `${row.errors.slice(0, -1)},${JSON.stringify(error)}]`;
}

function copy(row: Row): StoredJob {
  return {
    id: row.id,
    name: row.name,
    queue: row.queue,
    state: row.state,
    payload: row.payload,
    key: row.key,
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
