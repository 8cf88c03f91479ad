import type { RetryPolicy } from '../queue/queue.options.js';
import type { WorkContext } from '../queue/work-item.js';

export type JobState = 'scheduled' | 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const JOB_STATES: readonly JobState[] = ['scheduled', 'pending', 'running', 'succeeded', 'failed', 'cancelled'];

/** One failed attempt, as kept with the job. */
export interface JobError {
  attempt: number;
  name: string;
  message: string;
  stack?: string;
  at: Date;
}

/** A job as the store holds it. */
export interface JobRecord<P = unknown> {
  /** Unique across processes and time-ordered (a ULID). */
  id: string;
  name: string;
  queue: string;
  state: JobState;
  payload: P;
  key?: string;
  /** Jobs of one group (and queue) run one at a time, in order. */
  group?: string;
  priority: number;
  /** Attempts started so far (a run cut off by a crash or handed back at shutdown is not charged). */
  attempts: number;
  maxAttempts: number;
  /** Times the job was found orphaned by a process that died while running it. */
  stalls: number;
  runAt: Date;
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  progress?: number;
  result?: unknown;
  errors: JobError[];
}

/** Per-job options of `BackgroundJobs.enqueue`; each overrides the `@Job`'s, which override the queue's. */
export interface JobOptions {
  /** While a job with this key is scheduled, pending or running, `enqueue` returns that job instead of adding one. */
  key?: string;
  /** Milliseconds from now before the job may start. */
  delay?: number;
  /** When the job may start. */
  runAt?: Date;
  /** Higher runs first; FIFO within one priority. */
  priority?: number;
  retry?: RetryPolicy | number;
  /** Milliseconds per attempt; `Infinity` turns the queue's timeout off. */
  timeout?: number;
  /** The queue to run on; by default the `@Job`'s. */
  queue?: string;
  /**
   * Jobs of one group (on one queue) run one at a time, in enqueue order (higher priority first), while other
   * groups go on: per-user or per-tenant ordering. A job keeps its group from its start until it ends, retries
   * included. At most 200 characters. The store must support groups (memoryStore and sqliteStore do).
   */
  group?: string;
}

/** What a job handler receives with its payload: one per attempt. */
export interface JobContext extends WorkContext {
  readonly queue: string;
  readonly key?: string;
  readonly group?: string;
  readonly createdAt: Date;
  /** How often the job was orphaned by a process that died while running it. */
  readonly stalls: number;
}

/** A class decorated with `@Job(name)`: runs one job's payload. */
export interface JobHandler<P = unknown, R = unknown> {
  run(payload: P, context: JobContext): R | Promise<R>;
}

export interface JobListFilter {
  queue?: string;
  name?: string;
  /** Jobs enqueued with this key, in any state (an ended job keeps its key). */
  key?: string;
  state?: JobState | JobState[];
  /** Default 50, at most 1000. */
  limit?: number;
  /** The last id of the previous page: only jobs after it in `order`. */
  after?: string;
  /** By creation: `'asc'` (the default) oldest first, `'desc'` newest first. */
  order?: 'asc' | 'desc';
}

export type JobEventType =
  | 'enqueued'
  | 'started'
  | 'progress'
  | 'retrying'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'stalled'
  | 'handedBack';

export interface JobEvent {
  type: JobEventType;
  id: string;
  name: string;
  queue: string;
  attempt: number;
  /** `progress`: the value; `failed`, `retrying`, `stalled`: the error; `cancelled`: the reason; `retrying`: also `delay`. */
  value?: number;
  error?: unknown;
  reason?: unknown;
  delay?: number;
}

/** Options of `BackgroundJobs.schedule()`: how the cron is read, and the options of every job a tick inserts. */
export interface ScheduleOptions {
  /** The IANA time zone the cron is read in (`'Europe/Paris'`). Default `'UTC'`. */
  tz?: string;
  /** `'skip'`: a tick inserts nothing while the schedule's last job is still scheduled, pending or running. Default `'allow'`. */
  overlap?: 'skip' | 'allow';
  /** Ticks missed while no process ran: `'once'` (default) inserts one job for all of them, `'skip'` none. */
  misfire?: 'skip' | 'once';
  /** The queue each job runs on; by default the `@Job`'s. */
  queue?: string;
  priority?: number;
  retry?: RetryPolicy | number;
  /** Milliseconds per attempt; `Infinity` turns the queue's timeout off. */
  timeout?: number;
}

/** A recurring schedule as the store keeps it. */
export interface ScheduleRecord<P = unknown> {
  id: string;
  cron: string;
  tz: string;
  /** The job each tick inserts. */
  name: string;
  queue: string;
  payload: P;
  overlap: 'skip' | 'allow';
  misfire: 'skip' | 'once';
  /** `'decorator'`: declared by `@Recurring` (kept in step with the code at bootstrap); `'call'`: by `schedule()`. */
  source: 'decorator' | 'call';
  /** The next tick; absent when the cron has no later time. */
  nextRunAt?: Date;
  /** The last job a tick inserted. */
  lastJobId?: string;
  createdAt: Date;
  updatedAt: Date;
}
