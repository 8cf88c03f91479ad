import type { Logger } from '@nestjs/common';
import { describeError } from '../log-text.js';
import type { Attempt } from '../queue/attempt.js';
import type { BackgroundQueue, WorkSource } from '../queue/background-queue.js';
import { QueuedWork, type WorkHooks } from '../queue/queued-work.js';
import type { ResolvedRetryPolicy } from '../queue/retry-policy.js';
import { MAX_TIMER_DELAY } from '../validation.js';
import type { JobHandlerEntry } from './job-handler.explorer.js';
import { toJobRecord, toStoredError } from './job-record.js';
import { JobRunContext } from './job-run-context.js';
import type { JobWrites } from './job-writes.js';
import type { JobEventType } from './job.types.js';
import { CancelledError } from '../queue/queue.errors.js';
import type { ClaimedJob, Delivery, JobSink, JobStore } from './stores/job-store.js';

/** What names a job in an event. */
export type JobIdentity = Pick<ClaimedJob, 'id' | 'name' | 'queue'>;

/** What a feed tells the jobs layer about the jobs it runs. */
export interface FeedEvents {
  emit(type: JobEventType, job: JobIdentity, attempt: number, detail?: { error?: unknown; reason?: unknown; value?: number; delay?: number }): void;
  /** A job name that no handler of this process runs: warned once per name. */
  warnUnhandledName(name: string): void;
}

/** A job's own `{ retry, timeout }`, as stored with it (null: turned off for this job). */
export interface JobOverrides {
  retry?: ResolvedRetryPolicy | null;
  timeout?: number | null;
}

/** How long to wait before claiming again after the store failed to answer a claim. */
const CLAIM_RETRY_MS = 1_000;

/**
 * Feeds one queue with the stored jobs of the handlers it runs: claims as many as the queue has free slots, turns
 * each row into a work item of the queue's one engine, and writes back what became of it. Knows when it has
 * nothing, so that an idle queue costs no store calls: it looks again when woken (an enqueue or retry of this
 * process, a poll for other processes' work, or the timer of its next scheduled job).
 */
export class JobFeed implements WorkSource, WorkHooks, JobSink {
  readonly durable: boolean;
  /** Items of this feed that the engine holds (queued or running), by job id. */
  readonly items = new Map<string, { item: QueuedWork<unknown>; row: ClaimedJob }>();
  private dirty = true;
  private generation = 0;
  private claiming = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined = undefined;
  private timerAt = Infinity;
  /** Set when the store delivers its jobs itself (BullMQ): then the feed never claims. */
  private delivery: Delivery | undefined = undefined;
  private readonly names: string[];
  /** A claim was answered in this turn of the event loop: the next one waits for the next turn. */
  private justClaimed = false;
  /** A request came while `justClaimed`: made again in the next turn. */
  private deferred = false;
  private readonly wakeTask = (): void => this.wake();
  private readonly nextTurn = (): void => {
    this.justClaimed = false;
    if (!this.deferred) return;
    this.deferred = false;
    this.queue.wake();
  };

  constructor(
    readonly queue: BackgroundQueue,
    private readonly handlers: Map<string, JobHandlerEntry>,
    private readonly store: JobStore,
    private readonly writes: JobWrites,
    private readonly events: FeedEvents,
    private readonly logger: Logger,
  ) {
    this.durable = store.durable;
    this.names = [...handlers.keys()];
  }

  get busy(): boolean {
    return this.claiming || (!this.stopped && this.dirty && this.delivery === undefined);
  }

  /** A delivering store fetches for this queue from now on, at most the queue's concurrency at a time. */
  startDelivery(): void {
    if (this.store.deliver === undefined || this.delivery !== undefined) return;
    this.dirty = false;
    const { concurrency } = this.queue.counts();
    this.delivery = this.store.deliver(this.queue.name, this.names, { concurrency, paused: this.queue.isPaused, rateLimit: this.queue.settings.rateLimit }, this);
  }

  /** The queue's pause, resume or setConcurrency: a delivering store's fetching follows. */
  adjust(limits: { paused: boolean; concurrency: number }): void {
    this.delivery?.adjust(limits);
  }

  // ---- JobSink: a delivering store's jobs ----------------------------------------------------------------------

  deliver(row: ClaimedJob): void {
    this.queue.admit([this.toItem(row)]);
  }

  cancel(id: string): void {
    this.items.get(id)?.item.cancel(new CancelledError(`Job ${id} was cancelled with BackgroundJobs.cancel()`));
  }

  unhandled(name: string): void {
    this.events.warnUnhandledName(name);
  }

  /** There may be work now: look at the next chance. */
  wake(): void {
    this.generation++;
    this.dirty = true;
    this.queue.wake();
  }

  /** A job of this queue may start at `runAt`: make sure the feed looks then. */
  noteRunAt(runAt: number, now: number): void {
    if (runAt <= now) {
      this.wake();
      return;
    }
    if (runAt >= this.timerAt || this.stopped) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = runAt;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.wake();
    }, Math.min(runAt - now, MAX_TIMER_DELAY));
    this.timer.unref();
  }

  request(count: number): void {
    if (this.stopped || this.claiming || !this.dirty || this.delivery !== undefined) return;
    if (this.justClaimed) {
      // Handlers that finish at once would otherwise chain claim after claim in microtasks, starving timers
      // (heartbeats), I/O and the group commit of their own outcomes for as long as the backlog lasts.
      this.deferred = true;
      return;
    }
    this.claiming = true;
    const generation = this.generation;
    const now = Date.now();
    this.store.claim(this.queue.name, this.names, count, now).then(
      (rows) => {
        this.claiming = false;
        this.justClaimed = true;
        setImmediate(this.nextTurn);
        if (rows.length < count && generation === this.generation) this.dirty = false;
        const items = rows.map((row) => this.toItem(row));
        this.queue.admit(items);
        if (!this.dirty && !this.stopped) this.armTimer();
      },
      (error: unknown) => {
        this.claiming = false;
        this.logger.error(`Job store ${this.store.description} could not claim jobs for queue "${this.queue.name}"; trying again in ${CLAIM_RETRY_MS} ms: ${describeError(error)}`);
        this.dirty = false;
        this.queue.admit([]);
        this.noteRunAt(Date.now() + CLAIM_RETRY_MS, Date.now());
      },
    );
  }

  stop(): void {
    if (!this.stopped) this.delivery?.stop();
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  // ---- WorkHooks: the engine reports each step of a job's item -------------------------------------------------

  started(item: QueuedWork<any>): void {
    const entry = this.items.get(item.id);
    if (entry !== undefined) this.events.emit('started', entry.row, item.attempt);
  }

  progress(item: QueuedWork<any>, value: number): void {
    const entry = this.items.get(item.id);
    if (entry === undefined) return;
    this.writes.update({ id: item.id, type: 'progress', progress: value });
    this.events.emit('progress', entry.row, item.attempt, { value });
  }

  retry(item: QueuedWork<any>, error: unknown, delay: number): void {
    const entry = this.take(item);
    if (entry === undefined) return;
    const now = Date.now();
    const runAt = now + delay;
    // Woken only once the retry is committed: a claim before that would not see the job pending yet.
    this.writes.update({ id: item.id, type: 'retry', error: toStoredError(error, item.attempt, now), runAt }, () => this.noteRunAt(runAt, Date.now()));
    this.events.emit('retrying', entry.row, item.attempt, { error, delay });
  }

  ended(item: QueuedWork<any>, state: 'succeeded' | 'failed' | 'cancelled', outcome: unknown): void {
    const entry = this.take(item);
    if (entry === undefined) return;
    const now = Date.now();
    // A job of a group held it: once its end is committed, the group's next job may be claimed.
    const done = entry.row.group === null ? undefined : this.wakeTask;
    if (state === 'succeeded') {
      this.writes.update({ id: item.id, type: 'succeeded', result: this.resultText(entry.row, outcome) }, done);
      this.events.emit('succeeded', entry.row, item.attempt);
    } else if (state === 'failed') {
      this.writes.update({ id: item.id, type: 'failed', error: toStoredError(outcome, item.attempt, now) }, done);
      this.events.emit('failed', entry.row, item.attempt, { error: outcome });
    } else {
      this.writes.update({ id: item.id, type: 'cancelled', error: toStoredError(outcome, item.attempt, now) }, done);
      this.events.emit('cancelled', entry.row, item.attempt, { reason: outcome });
    }
  }

  handBack(item: QueuedWork<any>): void {
    const entry = this.take(item);
    if (entry === undefined) return;
    this.writes.update({ id: item.id, type: 'handBack' });
    this.events.emit('handedBack', entry.row, item.attempt);
  }

  dueAt(item: QueuedWork<any>): number {
    return this.items.get(item.id)?.row.runAt ?? Date.now();
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  private take(item: QueuedWork<any>): { item: QueuedWork<unknown>; row: ClaimedJob } | undefined {
    const entry = this.items.get(item.id);
    if (entry !== undefined && entry.item === item) this.items.delete(item.id);
    return entry?.item === item ? entry : undefined;
  }

  private armTimer(): void {
    this.store.nextRunAt(this.queue.name, this.names).then(
      (runAt) => {
        if (runAt !== undefined) this.noteRunAt(runAt, Date.now());
      },
      (error: unknown) => this.logger.error(`Job store ${this.store.description} could not tell the next scheduled job of queue "${this.queue.name}": ${describeError(error)}`),
    );
  }

  /** A stored row as a work item of the engine: its handler's run(), under the job's own retry and timeout. */
  private toItem(row: ClaimedJob): QueuedWork<unknown> {
    const handler = this.handlers.get(row.name)!;
    const overrides = row.options === null ? undefined : (JSON.parse(row.options) as JobOverrides);
    const retry = overrides?.retry !== undefined ? (overrides.retry ?? undefined) : handler.retry;
    const timeout = overrides?.timeout !== undefined ? (overrides.timeout ?? undefined) : handler.timeout;
    const run = (attempt: Attempt): unknown => {
      const context = new JobRunContext(attempt, row);
      // A singleton needs only the payload; a scoped handler gets the whole record, read from the store, as its REQUEST.
      if (handler.singleton !== undefined) return handler.singleton.run(JSON.parse(row.payload), context);
      return this.store.get(row.id).then(async (stored) => {
        if (stored === undefined) throw new Error(`Job ${row.id} "${row.name}" is no longer in ${this.store.description}`);
        const record = toJobRecord(stored);
        const instance = await handler.instance(record);
        return instance.run(record.payload, context);
      });
    };
    const item = new QueuedWork<unknown>(this.queue, run as never, row.name, timeout, retry, row.priority, row.id);
    item.hooks = this;
    item.attempt = row.attempts - 1; // the claim counted this attempt; the engine counts it again as it starts
    // Its producer's context, kept in the store as text; it was ready to start once due.
    if (this.queue.traced) item.sent = { trace: row.trace ?? undefined, readyAt: row.runAt };
    this.items.set(row.id, { item, row });
    return item;
  }

  private resultText(row: ClaimedJob, value: unknown): string | null {
    if (value === undefined) return null;
    try {
      return JSON.stringify(value) ?? null;
    } catch (error) {
      this.logger.warn(`Job ${row.id} "${row.name}" returned a value that JSON cannot hold; its result is not kept: ${describeError(error)}`);
      return null;
    }
  }
}
