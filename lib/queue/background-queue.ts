import type { Logger } from '@nestjs/common';
import { Subject, type Observable } from 'rxjs';
import type { TimePercentiles } from '../threads/worker-threads.js';
import { MAX_TIMER_DELAY, checkFunction, checkNumber, checkObject, checkSignal, checkString } from '../validation.js';
import { Attempt } from './attempt.js';
import { IntrusiveList } from '../intrusive-list.js';
import { Deque } from './deque.js';
import { DurationWindow, sampleClock } from './duration-window.js';
import { PendingQueue } from './pending-queue.js';
import { SignalLinks } from './signal-links.js';
import { CancelledError, QueueClosedError, QueueFullError, TimeoutError } from './queue.errors.js';
import type { ResolvedQueueOptions } from './queue.options.js';
import { QueuedWork } from './queued-work.js';
import { RateLimiter } from './rate-limiter.js';
import { resolveConcurrency, resolvePriority, resolveTimeout } from './resolve-queue-options.js';
import { resolveRetryPolicy, retryDelay, type ResolvedRetryPolicy } from './retry-policy.js';
import type { WorkEvent } from './work-event.js';
import type { EnqueueOptions, WorkFunction, WorkItem } from './work-item.js';
import { describeError, describeReason, errorStack } from '../log-text.js';
import type { AttemptOutcome, WorkTelemetry } from '../telemetry/work-telemetry.js';

const ENQUEUE_KEYS = ['name', 'timeout', 'retry', 'signal', 'priority', 'group', 'delay'] as const;
/** The most items a source is asked for at once on a queue without a concurrency limit. */
const MAX_REQUEST = 100;

/**
 * A second feed of the queue's one dispatch engine besides `enqueue`: stored jobs. The queue tells it how many
 * slots are free that no queued item will take (no more than the rate limit lets start now, none while paused); it
 * answers later (never inside the call) through `admit`, and
 * calls `wake` when it has work again.
 * @internal
 */
export interface WorkSource {
  /** Whether what it feeds survives the process: then shutdown hands work back instead of cancelling it. */
  readonly durable: boolean;
  /** A claim is in flight, or the source knows it has work due: the queue is not settled while so. */
  readonly busy: boolean;
  /** Up to `count` items are welcome now. Not cumulative; cheap to call when the source knows it has nothing. */
  request(count: number): void;
  /** The queue closed (a durable source) or drained to its deadline: claim nothing more. */
  stop(): void;
  /**
   * `pause()`, `resume()` or `setConcurrency()` changed what the queue starts: a source that fetches on its own (a
   * BullMQ worker) follows, so that what it holds never exceeds what the queue would start.
   */
  adjust?(state: { paused: boolean; concurrency: number }): void;
}

/** How long a function may ignore its aborted signal before the queue names it in a warning. */
export const IGNORED_SIGNAL_WARNING_MS = 1_000;

/** The counts of `QueueStats`. @internal */
export type QueueCounts = Omit<QueueStats, 'waitMs' | 'runMs'>;

export interface QueueStats {
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  /** Functions still running after their item ended (timed out, or cancelled and ignoring the signal): each keeps its slot. */
  abandoned: number;
  concurrency: number;
  capacity: number;
  /**
   * Ms from when an attempt could start (enqueued, its delay or retry delay over; a job once due in its store) to
   * its start, over the last 1024 samples. Sampling begins at the first `stats()` call, so a queue nobody watches
   * pays nothing; every item is timed until 1024 samples are in, then one item in four.
   */
  waitMs: TimePercentiles;
  /** Ms from an attempt's start to its function's return (whatever the outcome), over the last 1024 returns. */
  runMs: TimePercentiles;
}

/** What a queue reports after its drain: the items that did not finish by the deadline. */
export interface DrainReport {
  queue: string;
  /** Items cancelled before they started (pending or waiting to retry). */
  cancelledPending: string[];
  /** Items that were running at the deadline and were cancelled, their signal aborted. */
  cancelledRunning: string[];
  /** Functions still running after the grace period, abandoned (a subset of the above, or timed out earlier). */
  abandoned: string[];
  /** Durable jobs given back to their store unfinished, the attempt not charged: they run at the next start. */
  handedBack: string[];
}

interface Waiter {
  fn: WorkFunction<unknown>;
  options: ValidEnqueueOptions;
  resolve: (item: WorkItem<unknown>) => void;
  reject: (error: unknown) => void;
  unlink: (() => void) | undefined;
  done: boolean;
}

interface ValidEnqueueOptions {
  name: string | undefined;
  timeout: number | undefined;
  retry: ResolvedRetryPolicy | undefined;
  signal: AbortSignal | undefined;
  priority: number;
  group: string | undefined;
  delay: number;
}

/** One group's items: the one admitted (queued, running or waiting out a retry), then the others in enqueue order. */
interface GroupLine {
  admitted: QueuedWork<any>;
  readonly waiting: Deque<QueuedWork<any>>;
}

/** Wait and run times, sampled once somebody has read `stats()`. */
interface Timing {
  readonly wait: DurationWindow;
  readonly run: DurationWindow;
  /** Items seen since sampling began: once the windows are full, one item in `SAMPLE_EVERY` is timed. */
  seen: number;
}

/**
 * A power of two. Reading the clock three times an item costs about as much as dispatching it: once the window
 * holds 1024 samples, timing one item in four keeps the percentiles as good at a quarter of the cost.
 */
const SAMPLE_EVERY = 4;

/**
 * QueueBackgroundWorkItem for NestJS: accepted work runs in FIFO order under a concurrency limit, with per-attempt
 * timeouts and retries, and is drained (not dropped) when the application stops.
 */
export class BackgroundQueue {
  readonly events$: Observable<WorkEvent>;
  private readonly events = new Subject<WorkEvent>();
  private readonly queued = new PendingQueue<QueuedWork<any>>();
  /** Attempts whose function has not returned yet: each holds a concurrency slot, abandoned ones included. */
  private readonly active = new IntrusiveList<Attempt>();
  /** Items waiting out a retry delay. */
  private readonly retrying = new Set<QueuedWork<any>>();
  /** Items waiting out their `delay` option, not yet in the pending order. */
  private readonly delayed = new Set<QueuedWork<any>>();
  /** Groups with an item admitted, by name; a group with nothing left is deleted. */
  private readonly groups = new Map<string, GroupLine>();
  private readonly limiter: RateLimiter | undefined;
  /** The one timer that pumps again when the rate limit next allows a start. */
  private limitTimer: NodeJS.Timeout | undefined = undefined;
  private concurrency: number;
  private paused = false;
  private timing: Timing | undefined = undefined;
  private readonly waiters = new Deque<Waiter>();
  private readonly signalLinks = new SignalLinks<QueuedWork<any>>((item, reason) => this.cancelItem(item, reason));
  private idleWaiters: (() => void)[] = [];
  private settledWaiter: (() => void) | undefined = undefined;
  private pendingCount = 0;
  private runningCount = 0;
  private succeededCount = 0;
  private failedCount = 0;
  private cancelledCount = 0;
  private closed = false;
  private source: WorkSource | undefined = undefined;
  /** OpenTelemetry, when the app has it: every use is behind one undefined check. */
  private telemetry: WorkTelemetry | undefined = undefined;
  private sourceStopped = false;
  private pumping = false;
  private pumpScheduled = false;
  /** The options of an item enqueued without any: one shared object, not one per item. */
  private readonly defaults: ValidEnqueueOptions;
  private readonly pumpTask = (): void => {
    this.pumpScheduled = false;
    this.pump();
  };
  private readonly limitTask = (): void => {
    this.limitTimer = undefined;
    this.pump();
  };

  constructor(
    readonly name: string,
    private readonly options: ResolvedQueueOptions,
    private readonly logger: Logger,
  ) {
    this.events$ = this.events.asObservable();
    this.defaults = Object.freeze({
      name: undefined,
      timeout: options.timeout,
      retry: options.retry,
      signal: undefined,
      priority: options.priority,
      group: undefined,
      delay: 0,
    });
    this.concurrency = options.concurrency;
    this.limiter = options.rateLimit === undefined ? undefined : new RateLimiter(options.rateLimit.max, options.rateLimit.per);
  }

  /**
   * Accepts `work` and returns at once; it starts on a later microtask, never inside this call.
   * @throws TypeError for a `work` that is not a function or a bad option
   * @throws QueueFullError when `capacity` items are pending
   * @throws QueueClosedError once shutdown has begun
   */
  enqueue<T>(work: WorkFunction<T>, options?: EnqueueOptions): WorkItem<T> {
    if (typeof work !== 'function') checkFunction(`${this.name}.enqueue(work)`, work);
    const valid = options === undefined ? this.defaults : this.validate(options, 'enqueue');
    if (this.closed) throw new QueueClosedError(this.name);
    if (this.pendingCount >= this.options.capacity) throw new QueueFullError(this.name, this.options.capacity);
    return this.accept(work, valid);
  }

  /**
   * Like `enqueue`, but waits for room instead of throwing `QueueFullError`. Waiters are admitted in call order.
   * Rejects with `QueueClosedError` at shutdown and with the signal's reason when `options.signal` aborts first.
   */
  enqueueAsync<T>(work: WorkFunction<T>, options?: EnqueueOptions): Promise<WorkItem<T>> {
    if (typeof work !== 'function') checkFunction(`${this.name}.enqueueAsync(work)`, work);
    const valid = options === undefined ? this.defaults : this.validate(options, 'enqueueAsync');
    if (this.closed) return Promise.reject(new QueueClosedError(this.name));
    if (valid.signal?.aborted) return Promise.reject(valid.signal.reason);
    if (this.waiters.length === 0 && this.pendingCount < this.options.capacity) {
      return Promise.resolve(this.accept(work, valid));
    }
    return new Promise<WorkItem<T>>((resolve, reject) => {
      const waiter: Waiter = {
        fn: work as WorkFunction<unknown>,
        options: valid,
        resolve: resolve as (item: WorkItem<unknown>) => void,
        reject,
        unlink: undefined,
        done: false,
      };
      const signal = valid.signal;
      if (signal !== undefined) {
        const onAbort = (): void => {
          waiter.done = true;
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiter.unlink = () => signal.removeEventListener('abort', onAbort);
      }
      this.waiters.push(waiter);
    });
  }

  stats(): QueueStats {
    const timing = (this.timing ??= { wait: new DurationWindow(), run: new DurationWindow(), seen: 0 });
    return { ...this.counts(), waitMs: timing.wait.percentiles(), runMs: timing.run.percentiles() };
  }

  /** `stats()` without the percentiles, and without starting to sample them: for the library's own readers. @internal */
  counts(): QueueCounts {
    return {
      pending: this.pendingCount,
      running: this.runningCount,
      succeeded: this.succeededCount,
      failed: this.failedCount,
      cancelled: this.cancelledCount,
      abandoned: this.abandonedCount(),
      concurrency: this.concurrency,
      capacity: this.options.capacity,
    };
  }

  /** Whether to time the item now becoming ready: every one until the windows are full, then one in `SAMPLE_EVERY`. */
  private sampled(): boolean {
    const timing = this.timing;
    if (timing === undefined) return false;
    return !timing.wait.full || (++timing.seen & (SAMPLE_EVERY - 1)) === 0;
  }

  /** @internal set once by the registry, before any work is accepted. */
  useTelemetry(telemetry: WorkTelemetry): void {
    this.telemetry = telemetry;
  }

  /** Whether items get a telemetry mark: a source sets one on the items it admits. @internal */
  get traced(): boolean {
    return this.telemetry !== undefined;
  }

  /** Whether `pause()` holds new starts. */
  get isPaused(): boolean {
    return this.paused;
  }

  /**
   * Starts nothing new until `resume()`: running items go on, `enqueue` still accepts (under `capacity`), and no
   * stored job is claimed. At shutdown a paused queue drains all the same.
   */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.logger.debug?.(`Queue "${this.name}" paused`);
    this.adjustSource();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.logger.debug?.(`Queue "${this.name}" resumed`);
    this.adjustSource();
    this.schedulePump();
  }

  /**
   * Changes the concurrency limit at once: raised, more items start now; lowered, running items finish and
   * nothing new starts until fewer than `concurrency` run.
   * @throws RangeError unless an integer >= 1 or Infinity
   */
  setConcurrency(concurrency: number): void {
    this.concurrency = resolveConcurrency(`${this.name}.setConcurrency(concurrency)`, concurrency);
    this.logger.debug?.(`Queue "${this.name}" concurrency set to ${concurrency}`);
    this.adjustSource();
    this.schedulePump();
  }

  private adjustSource(): void {
    this.source?.adjust?.({ paused: this.paused, concurrency: this.concurrency });
  }

  /** @internal the jobs layer feeds stored jobs through this. */
  attachSource(source: WorkSource): void {
    this.source = source;
    this.schedulePump();
  }

  /**
   * A source delivers what it claimed (maybe nothing): the items start by priority among the queue's other
   * pending items.
   * @internal
   */
  admit(items: readonly QueuedWork<any>[]): void {
    for (const item of items) {
      this.pendingCount++;
      // A job's wait began when it became due in its store, not when it was claimed.
      if (this.timing !== undefined && item.hooks !== undefined && this.sampled()) item.readyAt = sampleClock() - Math.max(0, Date.now() - item.hooks.dueAt(item));
      this.queued.push(item);
    }
    if (this.closed && this.source?.durable) this.handBackQueued();
    // A source may answer inside the pump that asked it: then the running loop is past its last look.
    if (this.pumping) {
      this.pumpScheduled = true;
      queueMicrotask(this.pumpTask);
    } else this.pump();
    this.checkIdle();
    this.checkSettled();
  }

  /** Whether shutdown has closed the queue to new work. @internal */
  get isClosing(): boolean {
    return this.closed;
  }

  /** A source has work again. @internal */
  wake(): void {
    this.schedulePump();
  }

  /** @internal the engine-side settings a source's items take. */
  get settings(): ResolvedQueueOptions {
    return this.options;
  }

  /** Resolves when nothing is pending or running (at once if that is so now). */
  onIdle(): Promise<void> {
    if (this.pendingCount === 0 && this.runningCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Refuses new work from now on; callers waiting in `enqueueAsync` get `QueueClosedError`.
   * @internal called by the host at shutdown
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.limitTimer?.unref();
    if (this.paused) {
      if (this.pendingCount > 0) this.logger.log(`Queue "${this.name}" is paused: it drains its ${this.pendingCount} pending items all the same`);
      this.schedulePump();
    }
    if (this.source?.durable) {
      this.stopSource();
      this.handBackQueued();
    }
    for (let waiter = this.waiters.shift(); waiter !== undefined; waiter = this.waiters.shift()) {
      if (waiter.done) continue;
      waiter.done = true;
      waiter.unlink?.();
      waiter.reject(new QueueClosedError(this.name));
    }
  }

  /**
   * Lets pending items run until every function has returned, or until `deadline` aborts; then cancels what is
   * left, waits `grace` ms for running functions to honour their signal, and reports what did not finish.
   * @internal called by the host at shutdown
   */
  async drain(deadline: AbortSignal, grace: number): Promise<DrainReport> {
    const report: DrainReport = { queue: this.name, cancelledPending: [], cancelledRunning: [], abandoned: [], handedBack: [] };
    if (this.delayed.size > 0) this.cancelDelayed();
    if (!deadline.aborted) await this.settledOr(deadline);
    if (this.limitTimer !== undefined) clearTimeout(this.limitTimer);
    this.limitTimer = undefined;
    // A source that survives the process needs no more of it; one that does not (memory) has drained till now.
    this.stopSource();
    if (this.isSettled()) return report;

    const reason = new CancelledError(`Cancelled at the shutdown deadline of queue "${this.name}"`);
    const notStarted = [...this.retrying, ...this.queued.drain().filter((item) => item.state === 'pending')];
    for (const line of this.groups.values()) for (const item of line.waiting.drain()) if (item.state === 'pending') notStarted.push(item);
    for (const item of notStarted) {
      report.cancelledPending.push(item.label);
      this.cancelItem(item, reason, true);
    }
    const interrupted: QueuedWork<any>[] = [];
    for (const attempt of this.active.toArray()) {
      if (attempt.abandoned) continue;
      const item = attempt.work;
      if (item.hooks?.durable) {
        // Its signal aborts, but its end is decided after the grace: finished, or handed back to the store.
        item.interrupted = true;
        interrupted.push(item);
        attempt.abort(reason);
      } else {
        report.cancelledRunning.push(item.label);
        this.cancelItem(item, reason, true);
      }
    }

    if (this.active.size > 0) {
      // A timer of this realm, not AbortSignal.timeout: fake timers in users' tests then govern the grace too.
      const graceOver = new AbortController();
      const timer = setTimeout(() => graceOver.abort(), grace);
      await this.settledOr(graceOver.signal);
      clearTimeout(timer);
    }
    for (const attempt of this.active.toArray()) {
      const item = attempt.work;
      if (item.interrupted && item.state === 'running') {
        this.runningCount--;
        attempt.abandoned = true;
        this.handBack(item);
      }
      report.abandoned.push(item.label);
    }
    for (const item of interrupted) if (item.handedBack) report.handedBack.push(item.label);
    return report;
  }

  /**
   * A delay is a promise not to start before a time: shutdown does not run such items early, it cancels them as it
   * begins, and names them.
   */
  private cancelDelayed(): void {
    const reason = new CancelledError(`Cancelled at shutdown before its delay was over, on queue "${this.name}"`);
    const items = [...this.delayed];
    for (const item of items) this.cancelItem(item, reason, true);
    const labels = items.map((item) => item.label).join(', ');
    this.logger.warn(`Queue "${this.name}": ${items.length} delayed item${items.length === 1 ? '' : 's'} not yet due cancelled at shutdown: ${labels}`);
  }

  /** Durable items claimed but not started when the queue closes go back to their store at once. */
  private handBackQueued(): void {
    const keep: QueuedWork<any>[] = [];
    for (const item of this.queued.drain()) {
      if (item.state !== 'pending') continue;
      if (item.hooks?.durable) {
        this.pendingCount--;
        this.handBack(item);
      } else keep.push(item);
    }
    for (const item of keep) this.queued.push(item);
    this.checkIdle();
    this.checkSettled();
  }

  private stopSource(): void {
    if (this.source === undefined || this.sourceStopped) return;
    this.sourceStopped = true;
    this.source.stop();
  }

  private handBack(item: QueuedWork<any>): void {
    this.endSpan(item.current, 'handed back');
    item.handedBack = true;
    item.settle('cancelled', new CancelledError(`Work item ${item.label} was handed back to its store at shutdown`));
    item.hooks!.handBack(item);
  }

  private abandonedCount(): number {
    return this.active.size - this.runningCount;
  }

  // ---- WorkOwner / ProgressSink -------------------------------------------------------------------------------

  /** @internal */
  cancelItem(item: QueuedWork<any>, reason: unknown, atDeadline = false): boolean {
    const error =
      reason instanceof CancelledError
        ? reason
        : new CancelledError(`Work item ${item.label} was cancelled${reason === undefined ? '' : `: ${describeReason(reason)}`}`, { cause: reason });
    if (item.state === 'pending') {
      this.pendingCount--;
      if (item.timer !== undefined) {
        clearTimeout(item.timer);
        item.timer = undefined;
        this.retrying.delete(item);
        this.delayed.delete(item);
      }
      // A cancelled item still on the deque is skipped when it reaches the head: O(1) instead of a search.
    } else if (item.state === 'running') {
      this.runningCount--;
      this.endSpan(item.current!, 'cancelled', error);
      this.abandon(item.current!, error);
    } else {
      return false;
    }
    this.cancelledCount++;
    item.settle('cancelled', error);
    item.hooks?.ended(item, 'cancelled', error);
    if (item.group !== undefined) this.releaseGroup(item);
    if (!atDeadline) this.logger.log(`Work item ${item.label} on queue "${this.name}" was cancelled: ${describeError(error)}`);
    this.emit(item, 'cancelled', error);
    this.admitWaiters();
    this.checkIdle();
    this.checkSettled(); // a drain may be waiting on this very item (one waiting out a retry delay)
    return true;
  }

  /** @internal */
  unlinkSignal(item: QueuedWork<any>): void {
    this.signalLinks.remove(item.signal!, item);
  }

  /** @internal */
  reportProgress(attempt: Attempt, value: number): void {
    attempt.work.progress = value;
    attempt.work.hooks?.progress(attempt.work, value);
    if (this.events.observed) {
      const item = attempt.work;
      this.events.next({ type: 'progress', queue: this.name, id: item.id, name: item.name, attempt: item.attempt, value });
    }
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  private validate(options: EnqueueOptions, method: 'enqueue' | 'enqueueAsync'): ValidEnqueueOptions {
    const path = `${this.name}.${method} options`;
    const o = checkObject(path, options, ENQUEUE_KEYS);
    return {
      name: o.name === undefined ? undefined : checkString(`${path}.name`, o.name),
      timeout: o.timeout === undefined ? this.options.timeout : resolveTimeout(`${path}.timeout`, o.timeout),
      retry: o.retry === undefined ? this.options.retry : resolveRetryPolicy(`${path}.retry`, o.retry),
      signal: o.signal === undefined ? undefined : checkSignal(`${path}.signal`, o.signal),
      priority: resolvePriority(`${path}.priority`, o.priority, this.options.priority),
      group: o.group === undefined ? undefined : checkString(`${path}.group`, o.group),
      delay: o.delay === undefined ? 0 : checkNumber(`${path}.delay`, o.delay, { min: 0, max: MAX_TIMER_DELAY }),
    };
  }

  private accept<T>(fn: WorkFunction<T>, options: ValidEnqueueOptions): WorkItem<T> {
    const item = new QueuedWork<T>(this, fn, options.name, options.timeout, options.retry, options.priority);
    item.group = options.group;
    if (this.telemetry !== undefined) item.sent = { trace: this.telemetry.sent(this.name, item.id, item.name), readyAt: Date.now() };
    this.pendingCount++;
    this.emit(item, 'enqueued');
    const signal = options.signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        this.cancelItem(item, signal.reason);
        return item;
      }
      item.signal = signal;
      this.signalLinks.add(signal, item);
    }
    if (options.delay > 0) {
      this.delayed.add(item);
      item.timer = setTimeout(() => {
        item.timer = undefined;
        this.delayed.delete(item);
        this.ready(item);
      }, options.delay);
    } else this.ready(item);
    return item;
  }

  /** The item may start from now on: into the pending order, or behind the items of its group. */
  private ready(item: QueuedWork<any>): void {
    if (this.timing !== undefined && this.sampled()) item.readyAt = sampleClock();
    if (item.sent !== undefined) item.sent.readyAt = Date.now();
    if (item.group !== undefined) {
      const line = this.groups.get(item.group);
      if (line !== undefined) {
        line.waiting.push(item);
        return;
      }
      this.groups.set(item.group, { admitted: item, waiting: new Deque() });
    }
    this.queued.push(item);
    this.schedulePump();
  }

  /** The admitted item of a group has ended: the next live one of the group joins the pending order. */
  private releaseGroup(item: QueuedWork<any>): void {
    const line = this.groups.get(item.group!);
    // An item that had not reached the front of its group (or waited out its delay) holds nothing.
    if (line === undefined || line.admitted !== item) return;
    for (let next = line.waiting.shift(); next !== undefined; next = line.waiting.shift()) {
      if (next.state !== 'pending') continue; // cancelled while it waited: skipped here rather than searched for
      line.admitted = next;
      this.queued.push(next);
      this.schedulePump();
      return;
    }
    this.groups.delete(item.group!);
  }

  private schedulePump(): void {
    if (!this.pumpScheduled && !this.pumping) {
      this.pumpScheduled = true;
      queueMicrotask(this.pumpTask);
    }
  }

  /**
   * Starts queued items while slots (and the rate limit) allow. Re-entrant calls (a function that returns
   * synchronously) fold into the running loop. Paused, it starts nothing until the queue closes: then it drains.
   */
  private pump(): void {
    if (this.pumping || (this.paused && !this.closed)) return;
    this.pumping = true;
    try {
      const limiter = this.limiter;
      let limited = false;
      while (this.active.size < this.concurrency && this.queued.length > 0) {
        const item = this.queued.shift()!;
        if (item.state !== 'pending') continue;
        if (limiter !== undefined && !limiter.tryTake(performance.now())) {
          this.queued.unshift(item); // the head of its priority, where it was
          limited = true;
          break;
        }
        this.start(item);
      }
      const sourceOpen = this.source !== undefined && !this.sourceStopped;
      // Slots that no queued item will take: offer them to the source (stored jobs), counting what it owes.
      if (sourceOpen || limiter !== undefined) {
        const slots = this.concurrency - this.active.size;
        let free = slots - this.queued.length;
        if (limiter !== undefined && slots > 0) {
          const allowed = limiter.available(performance.now());
          // Refused a start: a timer always follows, even when a window expired since (else nothing wakes the queue).
          if (limited || (allowed === 0 && (sourceOpen || this.queued.length > 0))) this.armLimitTimer(limiter);
          // Claimed jobs would only wait in memory for the limit: ask for no more than it allows now.
          free = Math.min(free, allowed - this.queued.length);
        }
        if (sourceOpen && free > 0) this.source!.request(Math.min(free, MAX_REQUEST));
      }
    } finally {
      this.pumping = false;
    }
  }

  private armLimitTimer(limiter: RateLimiter): void {
    if (this.limitTimer !== undefined) return; // set for the earliest moment already: the next start moves it later
    this.limitTimer = setTimeout(this.limitTask, limiter.wait(performance.now()));
    // Once closed, the drain's deadline keeps the process alive: a window of an hour must not hold its exit.
    if (this.closed) this.limitTimer.unref();
  }

  private start(item: QueuedWork<any>): void {
    this.pendingCount--;
    this.runningCount++;
    item.state = 'running';
    item.attempt++;
    const attempt = new Attempt(item, item.attempt, this);
    if (item.readyAt >= 0) {
      // A sampled item (see `sampled`): its wait now, its run when its function returns.
      attempt.startedAt = sampleClock();
      this.timing!.wait.add(attempt.startedAt - item.readyAt);
    }
    item.current = attempt;
    this.active.add(attempt);
    if (item.timeout !== undefined) {
      attempt.timeoutTimer = setTimeout(() => this.timeOut(attempt), item.timeout);
    }
    this.emit(item, 'started');
    item.hooks?.started(item);
    if (this.waiters.length > 0) this.admitWaiters();
    let returned: unknown;
    try {
      if (this.telemetry === undefined) returned = item.fn!(attempt);
      else returned = this.startTraced(attempt);
    } catch (error) {
      this.finish(attempt, false, error);
      return;
    }
    if (returned !== null && typeof returned === 'object' && typeof (returned as PromiseLike<unknown>).then === 'function') {
      Promise.resolve(returned).then(
        (value) => this.finish(attempt, true, value),
        (error) => this.finish(attempt, false, error),
      );
    } else {
      this.finish(attempt, true, returned);
    }
  }

  /** The function of `attempt` has returned or thrown. */
  private finish(attempt: Attempt, ok: boolean, outcome: unknown): void {
    this.active.delete(attempt);
    if (attempt.startedAt >= 0) this.timing!.run.add(sampleClock() - attempt.startedAt);
    if (attempt.timeoutTimer !== undefined) clearTimeout(attempt.timeoutTimer);
    if (attempt.lateTimer !== undefined) clearTimeout(attempt.lateTimer);
    if (attempt.abandoned) {
      if (attempt.aborted && Date.now() - attempt.abortedAt >= IGNORED_SIGNAL_WARNING_MS) {
        this.logger.warn(
          `Work item ${attempt.work.label} on queue "${this.name}" returned ${Date.now() - attempt.abortedAt} ms after its signal aborted; its concurrency slot is free again`,
        );
      }
    } else {
      const item = attempt.work;
      this.runningCount--;
      if (ok) {
        if (attempt.span !== undefined) this.endSpan(attempt, 'succeeded');
        this.succeededCount++;
        item.settle('succeeded', outcome);
        this.emit(item, 'succeeded');
        item.hooks?.ended(item, 'succeeded', outcome);
        if (item.group !== undefined) this.releaseGroup(item);
      } else if (item.interrupted) {
        this.handBack(item); // it gave up at the shutdown deadline: not its fault, not charged
      } else {
        this.failAttempt(item, outcome);
      }
      this.checkIdle();
    }
    this.pump();
    this.checkSettled();
  }

  private timeOut(attempt: Attempt): void {
    attempt.timeoutTimer = undefined;
    const item = attempt.work;
    const error = new TimeoutError(item.timeout!);
    this.runningCount--;
    this.endSpan(attempt, 'timed out', error);
    this.abandon(attempt, error);
    this.failAttempt(item, error);
    this.checkIdle();
  }

  /** The item moves on without its function: abort the signal and warn if the function keeps the slot too long. */
  private abandon(attempt: Attempt, reason: unknown): void {
    attempt.abandoned = true;
    if (attempt.timeoutTimer !== undefined) {
      clearTimeout(attempt.timeoutTimer);
      attempt.timeoutTimer = undefined;
    }
    attempt.abort(reason);
    attempt.lateTimer = setTimeout(() => {
      attempt.lateTimer = undefined;
      this.logger.warn(
        `Work item ${attempt.work.label} on queue "${this.name}" ignores its aborted signal: still running ${IGNORED_SIGNAL_WARNING_MS} ms later, it keeps a concurrency slot until it returns`,
      );
    }, IGNORED_SIGNAL_WARNING_MS);
    attempt.lateTimer.unref();
  }

  /** An attempt failed (threw, rejected or timed out): retry per policy or fail the item. */
  private failAttempt(item: QueuedWork<any>, error: unknown): void {
    const policy = item.retry;
    const again = policy !== undefined && item.attempt < policy.attempts;
    if (item.current?.span !== undefined) this.endSpan(item.current, again ? 'retrying' : 'failed', error);
    if (again) {
      const delay = retryDelay(policy, item.attempt);
      this.logger.warn(
        `Work item ${item.label} on queue "${this.name}" failed on attempt ${item.attempt} of ${policy.attempts}, retrying in ${delay} ms: ${describeError(error)}`,
      );
      if (this.events.observed) {
        this.events.next({ type: 'retrying', queue: this.name, id: item.id, name: item.name, attempt: item.attempt, error, delay });
      }
      if (item.hooks !== undefined) {
        // The next attempt is the source's to keep (a stored job's comes back as a new claim), so that it survives the process.
        item.settle('failed', error);
        item.hooks.retry(item, error, delay);
        return;
      }
      item.state = 'pending';
      item.current = undefined;
      this.pendingCount++;
      this.retrying.add(item);
      item.timer = setTimeout(() => {
        item.timer = undefined;
        if (item.sent !== undefined) item.sent.readyAt = Date.now();
        this.retrying.delete(item);
        if (item.readyAt >= 0) item.readyAt = sampleClock(); // a sampled item stays sampled
        this.queued.unshift(item);
        this.pump();
      }, delay);
      return;
    }
    this.failedCount++;
    const attempts = item.attempt > 1 ? ` after ${item.attempt} attempts` : '';
    this.logger.error(`Work item ${item.label} on queue "${this.name}" failed${attempts}: ${describeError(error)}`, errorStack(error));
    item.settle('failed', error);
    this.emit(item, 'failed', error);
    item.hooks?.ended(item, 'failed', error);
    if (item.group !== undefined) this.releaseGroup(item);
  }

  /** An attempt's function, inside its CONSUMER span's context so that the spans it makes are its children. */
  private startTraced(attempt: Attempt): unknown {
    const item = attempt.work;
    const telemetry = this.telemetry!;
    const sent = item.sent;
    const span = telemetry.started(this.name, item.id, item.name, attempt.attempt, sent?.trace, sent === undefined ? undefined : Date.now() - sent.readyAt);
    if (span === undefined) return item.fn!(attempt);
    attempt.span = span;
    return telemetry.within(span, () => item.fn!(attempt));
  }

  private endSpan(attempt: Attempt | undefined, outcome: AttemptOutcome, error?: unknown): void {
    const span = attempt?.span;
    if (span === undefined) return;
    attempt!.span = undefined;
    this.telemetry!.ended(span, outcome, error);
  }

  private admitWaiters(): void {
    while (this.waiters.length > 0 && this.pendingCount < this.options.capacity && !this.closed) {
      const waiter = this.waiters.shift()!;
      if (waiter.done) continue;
      waiter.done = true;
      waiter.unlink?.();
      // Its signal may have aborted in the same turn that made room (it cancelled the item ahead): reject, as promised.
      const signal = waiter.options.signal;
      if (signal?.aborted) waiter.reject(signal.reason);
      else waiter.resolve(this.accept(waiter.fn, waiter.options));
    }
  }

  private checkIdle(): void {
    if (this.pendingCount !== 0 || this.runningCount !== 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private isSettled(): boolean {
    return this.pendingCount === 0 && this.runningCount === 0 && this.active.size === 0 && !(this.source?.busy ?? false);
  }

  private checkSettled(): void {
    if (this.settledWaiter !== undefined && this.isSettled()) this.settledWaiter();
  }

  /** Resolves when every item has ended and every function has returned, or when `signal` aborts. */
  private settledOr(signal: AbortSignal): Promise<void> {
    if (this.isSettled() || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.settledWaiter = undefined;
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.settledWaiter = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private emit(item: QueuedWork<any>, type: 'enqueued' | 'started' | 'succeeded'): void;
  private emit(item: QueuedWork<any>, type: 'failed' | 'cancelled', detail: unknown): void;
  private emit(item: QueuedWork<any>, type: WorkEvent['type'], detail?: unknown): void {
    if (!this.events.observed) return;
    const base = { queue: this.name, id: item.id, name: item.name, attempt: item.attempt };
    if (type === 'failed') this.events.next({ ...base, type, error: detail });
    else if (type === 'cancelled') this.events.next({ ...base, type, reason: detail });
    else this.events.next({ ...base, type: type as 'enqueued' | 'started' | 'succeeded' });
  }
}
