import type { JobState } from '../job.types.js';

/**
 * The seam between the jobs layer and a store: the few calls a store must answer. Every method may be backed by
 * a synchronous driver (SQLite) or a remote one (BullMQ), so every answer is a promise. Times are epoch ms.
 *
 * A store never runs anything: the jobs layer claims rows and feeds them to the queue's one dispatch engine, and
 * writes back what happened in batches (group commit). Payloads, results and errors cross the seam as JSON text,
 * so a store keeps exactly what it was given.
 */
export interface JobStore {
  /** For logs: `sqlite /srv/app/jobs.db`, `memory`. */
  readonly description: string;
  /** False for `memoryStore()`: nothing survives the process, so pending jobs drain at shutdown like closures. */
  readonly durable: boolean;
  readonly settings: StoreSettings;
  /** What this store does beyond the calls every store answers; the jobs layer refuses, at the call, what it lacks. */
  readonly capabilities: StoreCapabilities;

  /**
   * Opens (creating or migrating) the store and records this process as an owner. Rejects, writing nothing, on a
   * path that cannot be opened, a corrupt file or a newer schema, with the path in the message.
   */
  open(context: StoreOpenContext): Promise<void>;
  /** Releases the owner record and the connection. Idempotent. */
  close(): Promise<void>;

  /**
   * Inserts `jobs` in one transaction, all or nothing. A job with a `key` that an active job of the same queue
   * (scheduled, pending or running) already has is not inserted: the existing one is returned with created false,
   * and so is the first of two jobs with one key in the same batch. State is `scheduled` when `runAt > now`.
   */
  insert(jobs: readonly NewJob[], now: number): Promise<InsertResult[]>;

  /**
   * Claims up to `limit` jobs of `queue` whose name is in `names` and whose `runAt <= now` (promoting due
   * `scheduled` jobs first): higher `priority` first, then earlier `runAt`, then lower id. Each becomes `running`,
   * `attempts + 1`, `startedAt = now`, owned by this process with a lease until `now + leaseMs`. One statement or
   * one transaction.
   *
   * Groups (stores with `capabilities.groups`): a job with a `group` is claimed only when it is its group's head.
   * A group (per queue) is **held** by the job of it that was claimed last, from that claim until the job ends
   * (succeeded, failed for good, cancelled): while it waits out a retry delay, is orphaned and requeued, or is
   * handed back, it keeps the group, and it is the only job of the group that may be claimed. A group that no job
   * holds has as head its first `pending` job in claim order (whatever its name, due or not); `scheduled` jobs
   * wait their time without holding anything. So at most one job of a group runs at once, across every process,
   * and a group's jobs start in claim order with a retried one finishing before the next starts. `retry(id)`
   * makes an ended job new again: it holds nothing until claimed.
   */
  claim(queue: string, names: readonly string[], limit: number, now: number): Promise<ClaimedJob[]>;

  /**
   * Applies the outcomes of runs in one transaction. Each applies only while the job is `running` and owned by
   * this process (a job whose lease another process took over is left to it: at-least-once).
   */
  settle(updates: readonly JobUpdate[], now: number): Promise<void>;

  /**
   * Extends the lease of every job this process runs to `now + leaseMs` and refreshes the owner record. Returns
   * the ids among them that `cancel()` was asked to cancel (from this or another process).
   */
  renew(now: number): Promise<string[]>;

  /**
   * Orphans: `running` jobs whose owner is gone (its record is stale, or it was a process of this host that no
   * longer exists) or whose lease has expired. Each goes back to `pending` with `stalls + 1` and `attempts - 1`
   * (the cut-off run is not charged); one whose stalls would pass `maxStalls` becomes `failed` instead, with a
   * `JobStalledError` appended to its errors and `finishedAt = now`.
   */
  recover(now: number): Promise<RecoveryResult>;

  get(id: string): Promise<StoredJob | undefined>;
  /**
   * Ordered by id (creation order): ascending, or descending (newest first) with `order: 'desc'`. `after` is the
   * last id of the previous page, exclusive: ids above it ascending, below it descending. A page costs about its
   * `limit` in rows read (an index walk from the cursor), never a read of every row.
   */
  list(filter: StoreListFilter): Promise<StoredJob[]>;
  /**
   * `scheduled` or `pending`: becomes `cancelled` (`finishedAt = now`, `error` appended) and the answer is
   * `'cancelled'`. `running`: marked so that its owner's next `renew()` reports it, and the answer is
   * `'requested'`. Otherwise (ended or unknown): false.
   */
  cancel(id: string, error: StoredJobError, now: number): Promise<'cancelled' | 'requested' | false>;
  /** `failed` or `cancelled`: back to `pending` with attempts 0 and stalls 0, `runAt = now`, `finishedAt` cleared (errors kept). */
  retry(id: string, now: number): Promise<boolean>;
  /** Jobs by state, of one queue or of all; every state present, 0 when none. */
  counts(queue?: string): Promise<Record<JobState, number>>;
  /**
   * Jobs by state for every queue that has any in `states` (all six by default), in one read: a dashboard's
   * per-queue view, a health check's backlog. Each queue's record has every state asked for, 0 when none, and no
   * other (ended states are the costly ones to count: a health check leaves them out).
   */
  countsByQueue(states?: readonly JobState[]): Promise<Record<string, Partial<Record<JobState, number>>>>;
  /** The earliest `runAt` among `scheduled` jobs of `queue` whose name is in `names`, or undefined. */
  nextRunAt(queue: string, names: readonly string[]): Promise<number | undefined>;
  /** The `runAt` of the oldest `pending` job of `queue` (for health checks), or undefined. */
  oldestPending(queue?: string): Promise<number | undefined>;
  /** Deletes ended jobs past their retention (by `finishedAt`). Returns how many went. */
  sweep(now: number): Promise<number>;

  /**
   * Optional: a store whose own workers fetch and lock jobs (BullMQ) delivers them instead of answering claim().
   * Called once per queue of this process (when it has handlers), after open(): the store fetches jobs of `queue`,
   * at most `limits.concurrency` at a time (the queue's, so that it never holds more than the queue can start), none
   * while `limits.paused`, and at most `limits.rateLimit` starts per window if it can share that limit among every
   * process (BullMQ's limiter is global to the queue); `Delivery.adjust` follows the queue's changes. It hands
   * each to `sink.deliver` as `running`, its attempt counted. Outcomes come back through settle() as for claimed
   * jobs; a `handBack` returns the job to pending uncharged. `stop()` stops fetching; delivered jobs keep running.
   * A job whose name is not in `names` is not delivered: it stays for a process that handles it.
   */
  deliver?(queue: string, names: readonly string[], limits: DeliveryLimits, sink: JobSink): Delivery;

  // ---- Schedules (recurring jobs) -----------------------------------------------------------------------------
  // Optional as a set: a store has all four or none (then `@Recurring` and `schedule()` are refused with an error
  // naming the store). A schedule is a row of its own, keyed by id, that says which job to insert at each tick of
  // a cron expression; the jobs layer does the cron arithmetic (the `planner`), the store makes each tick's
  // insert and the advance of `nextRunAt` one atomic step, so that every tick fires once across every process.

  /**
   * Creates the schedule `schedule.id`, or replaces the stored one with that id, atomically with respect to
   * `fireDue`. Every field comes from `schedule`, except that when the stored schedule has the same `cron` and `tz`
   * and a `nextRunAt`, its `nextRunAt` is kept: declaring a schedule again (every bootstrap does) neither skips nor
   * repeats a tick, and ticks missed while no process ran stay due for `fireDue` to judge. `lastJobId` is kept
   * (null for a new one), and `createdAt` (`now` for a new one); `updatedAt = now`. Returns it as stored.
   */
  upsertSchedule?(schedule: NewSchedule, now: number): Promise<StoredSchedule>;
  /** Deletes the schedule; the jobs it inserted stay. False when there was none with that id. */
  removeSchedule?(id: string): Promise<boolean>;
  /** Every schedule, ordered by id. */
  listSchedules?(): Promise<StoredSchedule[]>;
  /**
   * Fires what is due. For every schedule whose `nextRunAt <= now` (earliest first, then by id), and only for
   * those, the store calls `planner(schedule, now, lastJobActive)`, where `lastJobActive` says whether the job
   * `schedule.lastJobId` exists and is `scheduled`, `pending` or `running`, and applies the answer: inserts
   * `plan.jobs` in order with `insert()`'s rules (state by `runAt`, keys), sets `lastJobId` to the id of the last
   * of them (the active job that holds its key, when it had one; unchanged when there are none) and `nextRunAt` to
   * `plan.nextRunAt` (`null`: never due again).
   * Reading the schedule and its last job's state, the inserts and the new `nextRunAt` form one atomic step: when
   * several processes call `fireDue` at once, each due tick is planned and inserted exactly once, and a crash
   * leaves either all of a step or none of it. `planner` is synchronous and has no effects a second call would
   * repeat, so a store may call it again for a schedule (an optimistic retry) and apply only the last answer.
   * Returns what it applied (the schedule as now stored, the plan object `planner` returned, the inserts), and
   * the earliest `nextRunAt` among all schedules afterwards (`undefined` when none is ever due), to arm a timer.
   * A call when nothing is due should cost one read.
   */
  fireDue?(now: number, planner: SchedulePlanner): Promise<FireResult>;
}

/** A recurring schedule as it crosses the seam. Times are epoch ms; `payload` and `options` are JSON text. */
export interface StoredSchedule {
  id: string;
  /** The cron expression (5 to 7 fields, or a nickname such as `@daily`), as given. */
  cron: string;
  /** The IANA time zone the cron is read in. */
  tz: string;
  /** `'skip'`: a tick inserts nothing while the last job it inserted is still scheduled, pending or running. */
  overlap: 'allow' | 'skip';
  /** What a tick missed while no process ran becomes: nothing (`'skip'`), or one job for all of them (`'once'`). */
  misfire: 'skip' | 'once';
  /** `'decorator'`: declared by `@Recurring` and kept in step with the code at bootstrap; `'call'`: by `schedule()`. */
  source: 'decorator' | 'call';
  /** The job each tick inserts, as NewJob's fields of the same names. */
  name: string;
  queue: string;
  payload: string;
  priority: number;
  maxAttempts: number;
  options: string | null;
  /** When the next tick is due; `null`: never again (the cron has no later time, or the schedule is parked). */
  nextRunAt: number | null;
  /** The last job a tick inserted, or null. */
  lastJobId: string | null;
  createdAt: number;
  updatedAt: number;
}

export type NewSchedule = Omit<StoredSchedule, 'lastJobId' | 'createdAt' | 'updatedAt'>;

/** What one schedule's due ticks become. */
export interface SchedulePlan {
  /** The jobs to insert, in order: usually one; none when the ticks are skipped. */
  jobs: readonly NewJob[];
  /** The schedule's next tick; `null`: never again. */
  nextRunAt: number | null;
}

/** Plans a due schedule's ticks: synchronous, and safe to call again for the same schedule (see `fireDue`). */
export type SchedulePlanner = (schedule: StoredSchedule, now: number, lastJobActive: boolean) => SchedulePlan;

export interface FiredSchedule {
  /** The schedule as stored after the step. */
  schedule: StoredSchedule;
  /** The object `planner` returned, as it returned it. */
  plan: SchedulePlan;
  /** One per `plan.jobs`, as `insert()` answers. */
  jobs: InsertResult[];
}

export interface FireResult {
  fired: FiredSchedule[];
  /** The earliest `nextRunAt` among all schedules after the call; `undefined` when none is ever due. */
  nextAt: number | undefined;
}

export interface StoreCapabilities {
  /** Jobs with a `group` run one at a time per group, in order (see `claim`). False: an enqueue with one is refused. */
  readonly groups: boolean;
}

export interface StoreSettings {
  /** How long a claim holds without a heartbeat. */
  leaseMs: number;
  /** Orphanings after which a job fails with `JobStalledError`. */
  maxStalls: number;
  /**
   * How often to look for work that another process added, or orphans whose lease ran out; `undefined` when no
   * other process can reach the store (memory), so that only this process's own calls wake the queue.
   */
  pollMs: number | undefined;
  /** Milliseconds to keep ended jobs, by state. */
  retention: { succeeded: number; cancelled: number; failed: number };
}

export interface StoreOpenContext {
  /** Unique per open (process and boot): owns claims. */
  owner: string;
  pid: number;
  hostname: string;
  now: number;
  /** Every queue the application configures (a store that keeps one structure per queue opens them). */
  queues?: readonly string[];
  /** Where a store says what is worth an operator's attention (an eviction policy, a lost connection). */
  warn?: (message: string) => void;
}

/** Where a delivering store hands the jobs it fetched: the jobs layer's feed of one queue. */
export interface JobSink {
  /** A job fetched for this process, `running` in the store: it runs in the queue's engine. */
  deliver(job: ClaimedJob): void;
  /** `cancel()` was asked (in this or another process) for a job delivered here: its signal aborts, no retry. */
  cancel(id: string): void;
  /** The store fetched a job whose name no handler here runs (and gave it back): said once per name. */
  unhandled(name: string): void;
}

/** A delivering store's fetching for one queue. */
export interface Delivery {
  /** Fetches nothing more (shutdown); what was delivered keeps running and is settled as usual. */
  stop(): void;
  /** The queue was paused, resumed or given another concurrency: fetch accordingly from now on. */
  adjust(limits: { paused: boolean; concurrency: number }): void;
}

/** What a delivering store may fetch for one queue: the queue's own limits. */
export interface DeliveryLimits {
  concurrency: number;
  paused: boolean;
  rateLimit: { max: number; per: number } | undefined;
}

/** A job as it crosses the seam. JSON text stays text here; the jobs layer parses it. */
export interface StoredJob {
  id: string;
  name: string;
  queue: string;
  state: JobState;
  /** JSON text. */
  payload: string;
  key: string | null;
  /** The group whose jobs run one at a time, in order (per queue), or null. */
  group: string | null;
  priority: number;
  attempts: number;
  maxAttempts: number;
  stalls: number;
  runAt: number;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  progress: number | null;
  /** JSON text of the handler's return value, or null. */
  result: string | null;
  /** JSON text of a `StoredJobError[]`, oldest first. */
  errors: string;
  /** JSON text of the job's own `{ retry, timeout }` overrides, or null. */
  options: string | null;
  /** Opaque text carried with the job (a trace context), or null. */
  trace: string | null;
}

/**
 * What a claim hands over: what a run needs and nothing more (each column a claim returns costs per row). A
 * request-scoped handler, whose REQUEST is the whole JobRecord, has it read with get().
 */
export type ClaimedJob = Pick<StoredJob, 'id' | 'name' | 'queue' | 'payload' | 'key' | 'group' | 'priority' | 'attempts' | 'stalls' | 'runAt' | 'createdAt' | 'options' | 'trace'>;

export interface StoredJobError {
  attempt: number;
  name: string;
  message: string;
  stack?: string;
  at: number;
}

export interface NewJob {
  id: string;
  name: string;
  queue: string;
  payload: string;
  key: string | null;
  /** Only for a store with `capabilities.groups`; null otherwise. */
  group: string | null;
  priority: number;
  maxAttempts: number;
  runAt: number;
  createdAt: number;
  options: string | null;
  trace: string | null;
}

export interface InsertResult {
  job: StoredJob;
  created: boolean;
}

export type JobUpdate =
  | { id: string; type: 'succeeded'; result: string | null }
  | { id: string; type: 'failed'; error: StoredJobError }
  /** Another attempt later: `scheduled` (or `pending` when `runAt <= now`), the lease released. */
  | { id: string; type: 'retry'; error: StoredJobError; runAt: number }
  | { id: string; type: 'cancelled'; error: StoredJobError }
  /** Back to `pending` at once with `attempts - 1`: a run cut off by shutdown is not charged. */
  | { id: string; type: 'handBack' }
  | { id: string; type: 'progress'; progress: number };

export interface RecoveryResult {
  /** Back to pending, stalls counted. */
  requeued: StoredJob[];
  /** Past maxStalls: failed. */
  failed: StoredJob[];
}

export interface StoreListFilter {
  queue?: string;
  name?: string;
  /** Jobs with this key, in any state (an ended job keeps its key). */
  key?: string;
  states?: readonly JobState[];
  limit: number;
  /** The last id of the previous page, exclusive. */
  after?: string;
  /** By id: 'asc' (the default) oldest first, 'desc' newest first. */
  order?: 'asc' | 'desc';
}
