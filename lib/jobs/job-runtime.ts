import { Inject, Injectable, Logger } from '@nestjs/common';
import { hostname } from 'node:os';
import { Subject } from 'rxjs';
import { BACKGROUND_WORK_OPTIONS, LOG_CONTEXT } from '../background-work.constants.js';
import { count, describeError, errorStack } from '../log-text.js';
import { CancelledError } from '../queue/queue.errors.js';
import { QueueRegistry } from '../queue/queue-registry.js';
import type { ResolvedModuleOptions } from '../resolve-module-options.js';
import { JobFeed, type FeedEvents, type JobIdentity } from './job-feed.js';
import { JobHandlerExplorer, type JobHandlerEntry } from './job-handler.explorer.js';
import { newJobId } from './job-ids.js';
import { JobScheduler } from './job-scheduler.js';
import { JobWrites } from './job-writes.js';
import { JobStoreClosedError } from './job.errors.js';
import type { JobEvent, JobEventType } from './job.types.js';
import type { InsertResult, JobStore, NewJob } from './stores/job-store.js';

type Phase = 'new' | 'open' | 'stopping' | 'closed' | 'failed';
/** How often ended jobs past their retention are swept. */
const SWEEP_MS = 60_000;

/**
 * The store's side of the application's life: opens it at bootstrap and recovers what a dead process left
 * running, feeds each queue that has handlers, renews leases, sweeps old rows, and at shutdown flushes and closes.
 * `BackgroundJobs` is the public face of it.
 */
@Injectable()
export class JobRuntime implements FeedEvents {
  readonly events = new Subject<JobEvent>();
  readonly store: JobStore;
  readonly writes: JobWrites;
  /** Recurring schedules: `@Recurring` and `BackgroundJobs.schedule()`. */
  readonly scheduler: JobScheduler;
  handlers = new Map<string, JobHandlerEntry>();
  readonly feeds = new Map<string, JobFeed>();
  private readonly logger = new Logger(LOG_CONTEXT);
  private phase: Phase = 'new';
  private openError: unknown = undefined;
  private readonly ready: Promise<void>;
  private markReady!: () => void;
  private timers: NodeJS.Timeout[] = [];
  private readonly warnedNames = new Set<string>();
  private readonly owner = newJobId();

  constructor(
    @Inject(BACKGROUND_WORK_OPTIONS) options: ResolvedModuleOptions,
    private readonly queues: QueueRegistry,
    private readonly explorer: JobHandlerExplorer,
  ) {
    this.store = options.store;
    this.writes = new JobWrites(this.store, this.logger, Date.now);
    this.scheduler = new JobScheduler(this.store, { inserted: (results) => this.inserted(results) }, this.logger);
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }

  /** Resolves once the store is open; rejects with JobStoreClosedError when it could not open or has closed. */
  async whenOpen(): Promise<void> {
    await this.ready;
    if (this.phase === 'failed') throw new JobStoreClosedError(`Job store ${this.store.description} could not be opened: ${describeError(this.openError)}`);
    if (this.phase === 'closed') throw new JobStoreClosedError(`Job store ${this.store.description} is closed: the application has stopped`);
  }

  get isOpen(): boolean {
    return this.phase === 'open' || this.phase === 'stopping';
  }

  /** Bootstrap, before hosted services start: handlers found and checked, the store opened, orphans recovered. */
  async open(): Promise<void> {
    try {
      this.handlers = this.explorer.explore();
      // Before the store opens: a bad @Recurring fails bootstrap without writing anything.
      await this.scheduler.check(this.handlers);
      await this.store.open({
        owner: this.owner,
        pid: process.pid,
        hostname: hostname(),
        now: Date.now(),
        queues: this.queues.all().map((queue) => queue.name),
        warn: (message) => this.logger.warn(message),
      });
    } catch (error) {
      this.phase = 'failed';
      this.openError = error;
      this.markReady();
      throw error;
    }
    this.phase = 'open';
    this.markReady();
    await this.recover();
    await this.scheduler.sync(this.handlers);
    await this.warnUnhandled();
  }

  /** Bootstrap, once hosted services have started (handlers may need them): the queues begin to claim. */
  startFeeds(): void {
    if (this.phase !== 'open') return;
    // Every queue claims every job this process has a handler for: a job runs on its @Job's queue unless its
    // enqueue named another (JobOptions.queue), and then that queue must find it too.
    if (this.handlers.size > 0) {
      for (const queue of this.queues.all()) {
        const feed = new JobFeed(queue, this.handlers, this.store, this.writes, this, this.logger);
        this.feeds.set(queue.name, feed);
        queue.attachSource(feed);
        feed.startDelivery();
      }
    }
    const { leaseMs, pollMs } = this.store.settings;
    this.every(Math.max(100, Math.floor(leaseMs / 3)), () => this.heartbeat());
    if (pollMs !== undefined) this.every(pollMs, () => this.wakeAll());
    this.every(SWEEP_MS, () => this.sweep());
    this.scheduler.start();
  }

  /** Shutdown begins: no schedule fires from now on (another process, or the next start, fires what comes due). */
  stopScheduling(): void {
    this.scheduler.stop();
  }

  /** Writes new jobs (group commit) and wakes the queues that run them. */
  insert(jobs: NewJob[]): Promise<InsertResult[]> {
    // Before bootstrap has opened the store, enqueues wait for it.
    if (this.phase === 'new') return this.ready.then(() => this.insert(jobs));
    if (this.phase === 'failed') return Promise.reject(new JobStoreClosedError(`Job store ${this.store.description} could not be opened: ${describeError(this.openError)}`));
    if (this.phase === 'closed') return Promise.reject(new JobStoreClosedError(`Job store ${this.store.description} is closed: the application has stopped`));
    const telemetry = this.queues.telemetry;
    if (telemetry === undefined) return this.writes.insert(jobs).then((results) => this.inserted(results));
    // PRODUCER spans in the caller's context; each job keeps its span's context as text, for whichever process runs it.
    const sending = telemetry.sendingJobs(jobs);
    for (let i = 0; i < jobs.length; i++) jobs[i].trace = sending.traces[i];
    return this.writes.insert(jobs).then(
      (results) => {
        sending.end();
        return this.inserted(results);
      },
      (error: unknown) => {
        sending.end(error);
        throw error;
      },
    );
  }

  /** Committed (enqueued, or inserted by a schedule's tick): said in events and to the queues that run the new jobs. */
  private inserted<T extends readonly InsertResult[]>(results: T): T {
    const now = Date.now();
    for (const { job, created } of results) {
      if (!created) continue;
      this.emit('enqueued', job, 0);
      if (!this.handlers.has(job.name)) this.warnUnhandledName(job.name);
      this.feeds.get(job.queue)?.noteRunAt(job.runAt, now);
    }
    return results;
  }

  /** Shutdown, after the queues drained: what a store that does not survive the process loses is named. */
  async afterDrain(): Promise<void> {
    // An app closed after a failed bootstrap never opened its store: nothing to flush or name.
    if (this.phase !== 'open') return;
    this.phase = 'stopping';
    this.scheduler.stop();
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    for (const feed of this.feeds.values()) feed.stop();
    await this.writes.flush();
    if (this.store.durable) {
      // Said so that a drain that left work behind is not mistaken for one that lost it.
      const { pending, scheduled } = await this.store.counts();
      if (pending + scheduled > 0) {
        this.logger.log(`${count(pending + scheduled, 'job')} left in ${this.store.description} for the next start (${pending} pending, ${scheduled} scheduled)`);
      }
      return;
    }
    const left = await this.store.list({ states: ['pending', 'scheduled'], limit: 1000 });
    if (left.length > 0) {
      const names = left.map((job) => `${job.id} "${job.name}"`).join(', ');
      this.logger.warn(`${count(left.length, 'job')} still pending in the memory store at shutdown, lost with the process: ${names}`);
    }
  }

  async close(): Promise<void> {
    if (this.phase === 'closed' || this.phase === 'new' || this.phase === 'failed') {
      this.phase = this.phase === 'new' ? 'closed' : this.phase;
      return;
    }
    this.scheduler.stop();
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.writes.flush();
    this.phase = 'closed';
    await this.store.close();
  }

  wakeAll(): void {
    for (const feed of this.feeds.values()) feed.wake();
  }

  emit(type: JobEventType, job: JobIdentity, attempt: number, detail?: { error?: unknown; reason?: unknown; value?: number; delay?: number }): void {
    if (!this.events.observed) return;
    this.events.next({ type, id: job.id, name: job.name, queue: job.queue, attempt, ...detail });
  }

  // ---- timers ---------------------------------------------------------------------------------------------------

  private every(ms: number, tick: () => Promise<void> | void): void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return; // a slow store call never piles ticks up
      running = true;
      Promise.resolve()
        .then(tick)
        .catch((error: unknown) => this.logger.error(`Job store ${this.store.description}: ${describeError(error)}`, errorStack(error)))
        .finally(() => (running = false));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private async heartbeat(): Promise<void> {
    const cancelled = await this.store.renew(Date.now());
    for (const id of cancelled) {
      for (const feed of this.feeds.values()) {
        feed.items.get(id)?.item.cancel(new CancelledError(`Job ${id} was cancelled with BackgroundJobs.cancel()`));
      }
    }
    await this.recover();
  }

  /** Orphans of dead processes run again (stalls counted), or fail past maxStalls. */
  private async recover(): Promise<void> {
    const { requeued, failed } = await this.store.recover(Date.now());
    if (requeued.length > 0) {
      this.logger.warn(
        `${count(requeued.length, 'orphaned job')} of a process that stopped while running them will run again: ${requeued.map((j) => `${j.id} "${j.name}"`).join(', ')}`,
      );
      for (const job of requeued) this.emit('stalled', job, job.attempts);
      this.wakeAll();
    }
    // A job that failed for good held its group: the next one may start.
    if (failed.length > 0 && requeued.length === 0) this.wakeAll();
    for (const job of failed) {
      this.logger.error(`Job ${job.id} "${job.name}" failed: its process died while running it more than ${this.store.settings.maxStalls} times`);
      this.emit('failed', job, job.attempts, { error: JSON.parse(job.errors).at(-1) });
    }
  }

  private async sweep(): Promise<void> {
    await this.store.sweep(Date.now());
  }

  /** Pending jobs that no handler of this process runs stay pending for another process: said once per name. */
  private async warnUnhandled(): Promise<void> {
    const pending = await this.store.list({ states: ['pending', 'scheduled'], limit: 1000 });
    for (const job of pending) if (!this.handlers.has(job.name)) this.warnUnhandledName(job.name);
  }

  warnUnhandledName(name: string): void {
    if (this.warnedNames.has(name)) return;
    this.warnedNames.add(name);
    this.logger.warn(`No @Job handler for job "${name}" in this process: such jobs stay pending until a process that has one runs them`);
  }
}
