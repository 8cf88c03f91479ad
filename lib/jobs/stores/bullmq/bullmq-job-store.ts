import { importModule } from '../../../import-module.js';
import type { JobState } from '../../job.types.js';
import type {
  ClaimedJob,
  Delivery,
  DeliveryLimits,
  InsertResult,
  JobSink,
  JobStore,
  JobUpdate,
  NewJob,
  RecoveryResult,
  StoreListFilter,
  StoreOpenContext,
  StoreSettings,
  StoredJob,
  StoredJobError,
} from '../job-store.js';
import {
  BULL_STATES,
  newStoredJob,
  stateOf,
  toBullError,
  toBullPriority,
  toClaimedJob,
  toStoredJob,
  type BullJob,
  type BullJobOptions,
} from './bullmq-records.js';
import { PgExtras } from './pg-extras.js';
import { RedisExtras, type StoreExtras } from './store-extras.js';

/** The resolved options of `bullmqStore()`. */
export interface BullmqStoreConfig {
  connection: unknown;
  prefix: string;
  backend: 'redis' | 'postgres';
  /** PostgreSQL: BullMQ's schema (its tables, and ours beside them). */
  schema: string;
  lockDuration: number;
  stalledInterval: number;
  maxStalls: number;
  /** How long bootstrap waits for the server before it fails. */
  connectTimeout: number;
  settings: StoreSettings;
  /** `host:port` (or the URL) for messages. */
  where: string;
}

/** A job name that no handler of this process runs goes back for this long, for a process that has one. */
export const UNHANDLED_DELAY_MS = 5_000;
/** How long `close()` waits for BullMQ's own close (which has no timeout) before forcing it. */
export const CLOSE_TIMEOUT_MS = 5_000;
/** Index entries a list() reads at a time. */
const LIST_CHUNK = 200;
const INDEX_SWEEP_CHUNK = 1_000;

/* eslint-disable @typescript-eslint/no-explicit-any -- bullmq and ioredis are optional peers, typed structurally here */
type AnyQueue = any;
type AnyWorker = any;

/** A job this process runs: its BullMQ processor waits on these until the engine says how the run ended. */
interface Running {
  job: BullJob & { moveToWait(token: string): Promise<unknown>; updateProgress(value: number): Promise<void> };
  token: string;
  queue: string;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Jobs on BullMQ: one BullMQ `Queue` (producer) per named queue, and one `Worker` per queue that has handlers in
 * this process, whose processor hands each job to the queue's dispatch engine (a delivering store: see
 * `JobStore.deliver`) and settles it as the engine says. Beside BullMQ's own keys the store keeps, under the same
 * prefix: an index of job ids (list() pages it in id order), the cancelled jobs (BullMQ has no such state), the
 * names of the queues, and a channel that relays cancel() to the process that runs the job.
 */
export class BullmqJobStore implements JobStore {
  readonly durable = true;
  /** Open-source BullMQ has no groups (BullMQ Pro has): an enqueue with one is refused at the call. */
  readonly capabilities = { groups: false };
  readonly description: string;
  readonly settings: StoreSettings;
  private bullmq: any;
  private readonly producers = new Map<string, AnyQueue>();
  private readonly workers = new Map<string, AnyWorker>();
  private readonly closingWorkers: Promise<unknown>[] = [];
  private readonly running = new Map<string, Running>();
  /** What the engine decided for a failed run: the delay before the next attempt, or -1 for none (BullMQ's backoff). */
  private readonly decisions = new Map<string, number>();
  /** Running jobs cancelled here: once BullMQ has failed them, they leave it for the cancelled archive. */
  private readonly cancelling = new Map<string, StoredJob>();
  private readonly sinks = new Map<string, JobSink>();
  private extras: StoreExtras = undefined as never;
  /** BullMQ's Queue and Worker, bound to the backend. */
  private classes: { Queue: any; Worker: any } = undefined as never;
  private queueNames: string[] = [];
  private warn: (message: string) => void = () => {};
  private phase: 'new' | 'open' | 'closed' = 'new';
  private indexCursor: string | undefined = undefined;
  private loopTimer: NodeJS.Timeout | undefined = undefined;
  private lastLoopWarning = 0;
  private ranSinceTick = false;

  constructor(private readonly config: BullmqStoreConfig) {
    this.settings = config.settings;
    this.description = `bullmq ${config.where} prefix "${config.prefix}"`;
  }

  async open(context: StoreOpenContext): Promise<void> {
    this.bullmq = await loadBullmq();
    const postgres = this.config.backend === 'postgres';
    this.classes = postgres ? this.bullmq.withBackend(this.bullmq.createPostgresBackend) : { Queue: this.bullmq.Queue, Worker: this.bullmq.Worker };
    if (context.warn !== undefined) this.warn = context.warn;
    this.queueNames = [...(context.queues ?? [])];
    const probe = this.producer(this.queueNames[0] ?? 'default');
    try {
      await withTimeout(
        probe.waitUntilReady(),
        this.config.connectTimeout,
        () => new Error(`bullmqStore: ${this.server} at ${this.config.where} did not answer within ${this.config.connectTimeout} ms${this.lastConnectionError === '' ? '' : ` (${this.lastConnectionError})`}`),
      );
      this.extras = postgres
        ? await PgExtras.open(await importModule('pg').then((m) => m.default ?? m), this.config.connection as Record<string, unknown>, this.config.schema)
        : new RedisExtras(await probe.getBackend().client, this.config.prefix);
    } catch (error) {
      await this.closeAll(true);
      const reason = (error as Error)?.message ?? String(error);
      throw new Error(reason.startsWith('bullmqStore:') ? reason : `bullmqStore: cannot reach ${this.server} at ${this.config.where}: ${reason}`, { cause: error });
    }
    const advice = await this.extras.advice();
    if (advice !== undefined) this.warn(`bullmqStore: ${this.server} at ${this.config.where} ${advice}`);
    for (const name of this.queueNames) this.producer(name);
    await this.extras.addQueues(this.queueNames);
    this.phase = 'open';
  }

  private get server(): string {
    return this.config.backend === 'postgres' ? 'PostgreSQL' : 'Redis';
  }

  async close(): Promise<void> {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    await this.closeAll(false);
  }

  // ---- writes -------------------------------------------------------------------------------------------------

  async insert(jobs: readonly NewJob[], now: number): Promise<InsertResult[]> {
    if (jobs.length === 0) return [];
    const results: InsertResult[] = new Array(jobs.length);
    const byQueue = new Map<string, number[]>();
    jobs.forEach((job, i) => {
      const list = byQueue.get(job.queue);
      if (list === undefined) byQueue.set(job.queue, [i]);
      else list.push(i);
    });
    // Indexed along with the adds (one round trip, not two): an entry whose job never made it is skipped by list()
    // and swept; the add that fails rejects the insert, so a job is never acknowledged without its entry.
    const indexed = this.extras.index(jobs);
    indexed.catch(() => undefined); // awaited below; a rejection before then is not unhandled
    for (const [queue, indexes] of byQueue) {
      if (!this.queueNames.includes(queue)) {
        this.queueNames.push(queue);
        await this.extras.addQueues([queue]);
      }
      const added: BullJob[] = await this.producer(queue).addBulk(indexes.map((i) => ({ name: jobs[i].name, data: JSON.parse(jobs[i].payload), opts: this.jobOptions(jobs[i], now) })));
      await indexed;
      const existing: string[] = [];
      for (let n = 0; n < indexes.length; n++) {
        const job = jobs[indexes[n]];
        if (added[n].id === job.id) results[indexes[n]] = { job: newStoredJob(job, now), created: true };
        else existing.push(job.id);
      }
      // Deduplicated by key: the active job that holds it is the answer.
      for (let n = 0; n < indexes.length; n++) {
        const i = indexes[n];
        if (results[i] !== undefined) continue;
        const id = added[n].id!;
        const first = indexes.find((j) => jobs[j].id === id);
        const job = first !== undefined ? results[first]?.job : await this.get(id);
        results[i] = { job: job ?? newStoredJob({ ...jobs[i], id }, now), created: false };
      }
      await this.extras.unindex(existing.map((id) => ({ id, queue })));
    }
    return results;
  }

  private jobOptions(job: NewJob, now: number): BullJobOptions {
    const { retention } = this.settings;
    const opts: BullJobOptions = {
      jobId: job.id,
      timestamp: job.createdAt,
      priority: toBullPriority(job.priority),
      attempts: job.maxAttempts,
      removeOnComplete: Number.isFinite(retention.succeeded) ? { age: Math.ceil(retention.succeeded / 1000) } : false,
      removeOnFail: Number.isFinite(retention.failed) ? { age: Math.ceil(retention.failed / 1000) } : false,
    };
    // BullMQ counts the delay from `timestamp` (our createdAt), not from the moment it adds the job.
    if (job.runAt > now) opts.delay = job.runAt - job.createdAt;
    // Each failed attempt's delay is the engine's (our RetryPolicy, its maxDelay and jitter): see backoff().
    if (job.maxAttempts > 1) opts.backoff = { type: 'bw' };
    if (job.key !== null) opts.deduplication = { id: job.key };
    if (job.options !== null) opts.bwOptions = job.options;
    if (job.trace !== null) opts.bwTrace = job.trace;
    return opts;
  }

  async claim(): Promise<ClaimedJob[]> {
    return []; // BullMQ's workers fetch: see deliver()
  }

  async settle(updates: readonly JobUpdate[], now: number): Promise<void> {
    const awaited: Promise<unknown>[] = [];
    for (const update of updates) {
      const run = this.running.get(update.id);
      if (run === undefined) continue; // its lock was lost and another worker has it: at-least-once
      switch (update.type) {
        case 'progress':
          run.job.updateProgress(update.progress).catch(() => undefined);
          break;
        case 'succeeded':
          this.running.delete(update.id);
          run.resolve(update.result === null ? undefined : JSON.parse(update.result));
          break;
        case 'failed':
          this.running.delete(update.id);
          this.decisions.set(update.id, -1);
          run.reject(toBullError(update.error));
          break;
        case 'retry':
          this.running.delete(update.id);
          this.decisions.set(update.id, Math.max(0, update.runAt - now));
          run.reject(toBullError(update.error));
          break;
        case 'cancelled': {
          this.running.delete(update.id);
          this.decisions.set(update.id, -1);
          const record = this.cancelledRecord(toStoredJob(run.job, run.queue, 'running'), update.error, now);
          record.attempts = run.job.attemptsMade + 1;
          this.cancelling.set(update.id, record);
          awaited.push(this.extras.archive(run.queue, update.id, JSON.stringify(record)));
          run.reject(toBullError(update.error));
          break;
        }
        case 'handBack':
          this.running.delete(update.id);
          // BullMQ's way to give a job back uncharged: to wait under our lock, then WaitingError for the worker.
          // Awaited (bounded): once settled, the job is pending in the store, as the shutdown's count says.
          awaited.push(
            settlesWithin(
              run.job.moveToWait(run.token).then(
                () => run.reject(new this.bullmq.WaitingError()),
                () => run.reject(new this.bullmq.WaitingError()), // the lock expires instead: a stall, still uncharged
              ),
              CLOSE_TIMEOUT_MS,
            ),
          );
          break;
      }
    }
    await Promise.all(awaited);
  }

  async renew(): Promise<string[]> {
    return []; // BullMQ renews its locks; cancel() reaches the owner over the channel
  }

  async recover(): Promise<RecoveryResult> {
    return { requeued: [], failed: [] }; // BullMQ's stalled checker does this
  }

  // ---- delivery -----------------------------------------------------------------------------------------------

  deliver(queue: string, names: readonly string[], limits: DeliveryLimits, sink: JobSink): Delivery {
    const handled = new Set(names);
    this.sinks.set(queue, sink);
    void this.subscribe();
    // Two parameters: BullMQ makes no AbortController per job (the engine has the job's signal).
    // Paused: fetch nothing, so that waiting jobs stay in the store for other processes rather than in this one.
    let paused = false;
    const processor = async (job: Running['job'] & { moveToDelayed(at: number, token: string): Promise<void> }, token: string): Promise<unknown> => {
      if (paused) {
        // A blocking fetch already under way when the queue paused still brings one job: back to wait, uncharged.
        await job.moveToWait(token);
        throw new this.bullmq.WaitingError();
      }
      if (!handled.has(job.name)) {
        sink.unhandled(job.name);
        await job.moveToDelayed(Date.now() + UNHANDLED_DELAY_MS, token);
        throw new this.bullmq.DelayedError();
      }
      return new Promise((resolve, reject) => {
        this.running.set(job.id!, { job, token, queue, resolve, reject });
        this.ranSinceTick = true;
        sink.deliver(toClaimedJob(job, queue));
      });
    };
    const worker: AnyWorker = new this.classes.Worker(queue, processor, {
      ...this.connectionOptions(),
      concurrency: workerConcurrency(limits.concurrency),
      // BullMQ's limiter counts starts in Redis, across every worker of the queue: the queue's rateLimit holds for
      // the whole cluster, not per process (the engine's own window still applies within this process).
      ...(limits.rateLimit === undefined ? {} : { limiter: { max: limits.rateLimit.max, duration: limits.rateLimit.per } }),
      lockDuration: this.config.lockDuration,
      stalledInterval: this.config.stalledInterval,
      maxStalledCount: this.config.maxStalls,
      settings: { backoffStrategy: (_attempts: number, _type: string, _error: unknown, job: BullJob) => this.backoff(job) },
    });
    worker.on('error', () => undefined); // connection errors: ioredis reconnects; the store's client reports them once
    worker.on('failed', (job: BullJob | undefined) => {
      const record = job?.id === undefined ? undefined : this.cancelling.get(job.id);
      if (record === undefined) return;
      this.cancelling.delete(record.id);
      this.producer(queue).remove(record.id).catch(() => undefined);
    });
    this.workers.set(queue, worker);
    this.watchEventLoop();
    const follow = (state: { paused: boolean; concurrency: number }): void => {
      worker.concurrency = workerConcurrency(state.concurrency);
      if (state.paused === paused) return;
      paused = state.paused;
      if (paused) worker.pause(true).catch(() => undefined);
      else worker.resume().catch(() => undefined);
    };
    follow(limits);
    return {
      adjust: follow,
      stop: () => {
        // close() stops fetching at once and resolves when the jobs delivered here are settled (bounded in close()).
        const closing = worker.close().catch(() => undefined);
        this.closingWorkers.push(closing);
      },
    };
  }

  /**
   * BullMQ renews a running job's lock every lockDuration / 2 from this thread: a handler that blocks the event loop
   * longer lets the lock expire, and another worker runs the job again (bullmq#2857). Said when it happens, at most
   * once a minute; CPU-heavy work belongs on WorkerThreads.
   */
  private watchEventLoop(): void {
    if (this.loopTimer !== undefined) return;
    const renewal = this.config.lockDuration / 2;
    const every = Math.max(100, Math.floor(renewal / 4));
    let last = performance.now();
    this.loopTimer = setInterval(() => {
      const now = performance.now();
      const blocked = Math.round(now - last - every);
      last = now;
      // A job that blocked and then finished is already settled: "ran since the last tick" counts it.
      const ran = this.ranSinceTick || this.running.size > 0;
      this.ranSinceTick = this.running.size > 0;
      if (blocked <= renewal || !ran || Date.now() - this.lastLoopWarning < 60_000) return;
      this.lastLoopWarning = Date.now();
      this.warn(
        `bullmqStore: the event loop was blocked for ${blocked} ms while jobs ran, longer than BullMQ's lock renewal interval (${renewal} ms, lockDuration / 2): their locks may expire and other workers run them again; run CPU-heavy work on WorkerThreads`,
      );
    }, every);
    this.loopTimer.unref();
  }

  private backoff(job: BullJob): number {
    const decided = this.decisions.get(job.id!);
    this.decisions.delete(job.id!);
    return decided ?? -1;
  }

  /** cancel() of a job that another process runs reaches it here. */
  private async subscribe(): Promise<void> {
    await this.extras
      .onCancel((queue, id) => {
        if (this.running.has(id)) this.sinks.get(queue)?.cancel(id);
      })
      .catch((error: unknown) => this.warn(`bullmqStore: cannot listen for cancel() of other processes: ${(error as Error)?.message ?? String(error)}`));
  }

  // ---- reads --------------------------------------------------------------------------------------------------

  async get(id: string): Promise<StoredJob | undefined> {
    const run = this.running.get(id);
    if (run !== undefined) return toStoredJob(run.job, run.queue, 'running');
    const queue = await this.queueOf(id);
    return queue === undefined ? undefined : this.read(id, queue);
  }

  private queueOf(id: string): Promise<string | undefined> {
    return this.extras.queueOf(id);
  }

  /** The job `id` of `queue` from BullMQ, or from the cancelled archive. */
  private async read(id: string, queue: string): Promise<StoredJob | undefined> {
    const [archived, job] = await Promise.all([this.extras.archived(queue, id), this.producer(queue).getJob(id)]);
    if (archived !== null) return JSON.parse(archived) as StoredJob;
    if (job === undefined || job === null) return undefined;
    const state = stateOf(await job.getState());
    return state === undefined ? undefined : toStoredJob(job, queue, state);
  }

  async list(filter: StoreListFilter): Promise<StoredJob[]> {
    const out: StoredJob[] = [];
    const desc = filter.order === 'desc';
    let cursor = filter.after;
    const states = filter.states === undefined ? undefined : new Set(filter.states);
    for (;;) {
      const members = await this.extras.page(cursor, desc, LIST_CHUNK);
      if (members.length === 0) return out;
      const wanted = members.filter((m) => filter.queue === undefined || m.queue === filter.queue);
      const jobs = await Promise.all(wanted.map((m) => this.read(m.id, m.queue)));
      for (const job of jobs) {
        if (job === undefined) continue;
        if (filter.name !== undefined && job.name !== filter.name) continue;
        if (filter.key !== undefined && job.key !== filter.key) continue;
        if (states !== undefined && !states.has(job.state)) continue;
        out.push(job);
        if (out.length === filter.limit) return out;
      }
      if (members.length < LIST_CHUNK) return out;
      cursor = members.at(-1)!.id;
    }
  }

  async cancel(id: string, error: StoredJobError, now: number): Promise<'cancelled' | 'requested' | false> {
    const queue = await this.queueOf(id);
    if (queue === undefined) return false;
    const job = await this.read(id, queue);
    if (job === undefined || job.state === 'succeeded' || job.state === 'failed' || job.state === 'cancelled') return false;
    if (job.state !== 'running') {
      try {
        // Refused while a worker holds its lock: then it is running after all.
        await this.producer(queue).remove(id);
        await this.extras.archive(queue, id, JSON.stringify(this.cancelledRecord(job, error, now)));
        return 'cancelled';
      } catch {
        // locked: fall through
      }
    }
    await this.extras.publishCancel(queue, id);
    return 'requested';
  }

  private cancelledRecord(job: StoredJob, error: StoredJobError, now: number): StoredJob {
    const errors = JSON.parse(job.errors) as StoredJobError[];
    errors.push({ ...error, attempt: error.attempt || job.attempts });
    return { ...job, state: 'cancelled', finishedAt: now, errors: JSON.stringify(errors) };
  }

  async retry(id: string, now: number): Promise<boolean> {
    const queue = await this.queueOf(id);
    if (queue === undefined) return false;
    const job = await this.read(id, queue);
    if (job === undefined) return false;
    if (job.state === 'failed') {
      const bullJob = await this.producer(queue).getJob(id);
      await bullJob.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      return true;
    }
    if (job.state !== 'cancelled') return false;
    if (!(await this.extras.unarchive(queue, id))) return false; // another process retried it first
    const again: NewJob = { ...job, runAt: now };
    await this.producer(queue).add(job.name, JSON.parse(job.payload), this.jobOptions(again, now));
    return true;
  }

  async counts(queue?: string): Promise<Record<JobState, number>> {
    const names = queue === undefined ? await this.allQueues() : [queue];
    const total: Record<JobState, number> = { scheduled: 0, pending: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
    const each = await Promise.all(names.map((name) => this.queueCounts(name)));
    for (const counts of each) for (const state of Object.keys(total) as JobState[]) total[state] += counts[state] ?? 0;
    return total;
  }

  async countsByQueue(states?: readonly JobState[]): Promise<Record<string, Partial<Record<JobState, number>>>> {
    const asked = states ?? (['scheduled', 'pending', 'running', 'succeeded', 'failed', 'cancelled'] as const);
    const names = await this.allQueues();
    const out: Record<string, Partial<Record<JobState, number>>> = {};
    const each = await Promise.all(names.map((name) => this.queueCounts(name, asked)));
    names.forEach((name, i) => {
      const counts = each[i];
      if (!asked.some((state) => (counts[state] ?? 0) > 0)) return;
      out[name] = Object.fromEntries(asked.map((state) => [state, counts[state] ?? 0]));
    });
    return out;
  }

  private async queueCounts(queue: string, states: readonly JobState[] = ['scheduled', 'pending', 'running', 'succeeded', 'failed', 'cancelled']): Promise<Partial<Record<JobState, number>>> {
    const types = states.flatMap((state) => (state === 'cancelled' ? [] : BULL_STATES[state]));
    const [bull, cancelled] = await Promise.all([
      types.length === 0 ? {} : (this.producer(queue).getJobCounts(...types) as Promise<Record<string, number>>),
      states.includes('cancelled') ? this.extras.archivedCount(queue) : 0,
    ]);
    const out: Partial<Record<JobState, number>> = {};
    for (const state of states) {
      out[state] = state === 'cancelled' ? cancelled : BULL_STATES[state].reduce((sum, type) => sum + ((bull as Record<string, number>)[type] ?? 0), 0);
    }
    return out;
  }

  private async allQueues(): Promise<string[]> {
    const stored = await this.extras.queues();
    return [...new Set([...this.queueNames, ...stored])].toSorted();
  }

  async nextRunAt(): Promise<number | undefined> {
    return undefined; // BullMQ promotes its delayed jobs itself
  }

  /** The oldest among the first pending jobs in BullMQ's order (priority, then FIFO): exact with one priority. */
  async oldestPending(queue?: string): Promise<number | undefined> {
    const names = queue === undefined ? await this.allQueues() : [queue];
    let oldest: number | undefined;
    for (const name of names) {
      const jobs: BullJob[] = await this.producer(name).getJobs(['prioritized', 'waiting', 'paused'], 0, 99, true);
      for (const job of jobs) {
        if (job === undefined || job === null) continue;
        const runAt = job.timestamp + (job.opts.delay ?? 0);
        if (oldest === undefined || runAt < oldest) oldest = runAt;
      }
    }
    return oldest;
  }

  /** BullMQ removes finished jobs past their age itself; this sweeps the cancelled archive and the id index. */
  async sweep(now: number): Promise<number> {
    let gone = 0;
    const keep = this.settings.retention.cancelled;
    for (const queue of await this.allQueues()) {
      await this.extras.scanArchive(queue, async (records) => {
        for (const text of records) {
          const record = JSON.parse(text) as StoredJob;
          if (record.finishedAt === null || now - record.finishedAt < keep) continue;
          if (await this.extras.unarchive(queue, record.id)) gone++;
          await this.extras.unindex([record]);
        }
      });
    }
    // A slice of the index at each sweep: entries whose job BullMQ removed (removeOnComplete / removeOnFail) go.
    const entries = await this.extras.page(this.indexCursor, false, INDEX_SWEEP_CHUNK);
    this.indexCursor = entries.length < INDEX_SWEEP_CHUNK ? undefined : entries.at(-1)!.id;
    const found = await Promise.all(entries.map(async (e) => (await this.producer(e.queue).getJob(e.id)) || (await this.extras.archived(e.queue, e.id))));
    await this.extras.unindex(entries.filter((_, i) => !found[i]));
    return gone;
  }

  // ---- connections ----------------------------------------------------------------------------------------------

  private connectionOptions(): Record<string, unknown> {
    return this.config.backend === 'postgres' ? { connection: this.config.connection } : { connection: this.config.connection, prefix: this.config.prefix };
  }

  private producer(queue: string): AnyQueue {
    let producer = this.producers.get(queue);
    if (producer === undefined) {
      producer = new this.classes.Queue(queue, this.connectionOptions());
      producer.on('error', (error: Error) => this.connectionError(error));
      this.producers.set(queue, producer);
    }
    return producer;
  }

  private lastConnectionError = '';
  private connectionError(error: Error): void {
    const text = error?.message ?? String(error);
    if (text === this.lastConnectionError) return; // ioredis retries every few hundred ms: say it once per cause
    this.lastConnectionError = text;
    if (this.phase !== 'open') return; // bootstrap's own error names it
    this.warn(`bullmqStore: connection to ${this.config.where}: ${text}; reconnecting (running jobs keep their place)`);
  }

  /** Workers first (their jobs may still enqueue: nestjs/bull#2069), then producers, then our own connections. */
  private async closeAll(force: boolean): Promise<void> {
    clearInterval(this.loopTimer);
    this.loopTimer = undefined;
    for (const worker of this.workers.values()) if (!force) this.closingWorkers.push(worker.close().catch(() => undefined));
    const workersClosed = await settlesWithin(Promise.all(this.closingWorkers), force ? 0 : CLOSE_TIMEOUT_MS);
    if (!workersClosed || force) await Promise.all([...this.workers.values()].map((w) => settlesWithin(w.close(true).catch(() => undefined), CLOSE_TIMEOUT_MS)));
    this.workers.clear();
    await Promise.all([...this.producers.values()].map((q) => settlesWithin(q.close().catch(() => undefined), CLOSE_TIMEOUT_MS)));
    // A producer that never connected keeps retrying in ioredis: disconnect() ends it.
    for (const q of this.producers.values()) q.disconnect?.().catch?.(() => undefined);
    this.producers.clear();
    await this.extras?.close();
  }
}

/** Loads bullmq (an optional peer) or says how to install it. */
async function loadBullmq(): Promise<any> {
  try {
    const module = await importModule('bullmq');
    return module.Queue === undefined ? module.default : module;
  } catch (error) {
    const code = (error as { code?: string })?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error('bullmqStore needs the optional peer bullmq (with ioredis): npm install bullmq ioredis', { cause: error });
    }
    throw error;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(error()), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Whether `promise` settled within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  clearTimeout(timer);
  return settled;
}

/** BullMQ's worker needs a finite concurrency: an unbounded queue fetches 100 at a time. */
function workerConcurrency(concurrency: number): number {
  return Number.isFinite(concurrency) ? concurrency : 100;
}
