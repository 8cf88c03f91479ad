import { CancelledError, TimeoutError } from '../../lib/queue/queue.errors.js';
import type { RetryOption } from './arbitraries.js';

/**
 * A reference model of one BackgroundQueue, written from the contract (DESIGN.md, README) rather than from the
 * code. It does not run anything: the harness tells it what the work functions and the harness itself observe
 * (a function starts, returns, sees its signal abort; the harness cancels, aborts, closes), in the order they
 * happen, and it throws a `ModelViolation` when that is not what the contract allows. Between commands the
 * harness compares the queue's own view (stats, item states, results, onIdle, drain) with the model's.
 *
 * Time: the model knows when each function started, each item's timeout and each retry delay, so it can say when
 * a timeout must fire and when a retried item goes back to the head of the queue.
 */

export type State = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface Policy {
  attempts: number;
  backoff: 'fixed' | 'exponential';
  delay: number;
  maxDelay: number;
  jitter: boolean;
}

/** What `result` must settle with once the item has ended. */
export type Expected =
  | { kind: 'value'; value: unknown }
  | { kind: 'error'; error: unknown }
  | { kind: 'cancelled'; reason: unknown; atDeadline: boolean };

/** One call of the item's function. */
export interface Run {
  start: number;
  /** The item moved on without this function (timed out or cancelled): what it returns no longer counts. */
  abandoned: boolean;
  aborted: boolean;
  returned: boolean;
}

export class ModelViolation extends Error {
  override readonly name = 'ModelViolation';
}

export function check(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new ModelViolation(message());
}

/** The retry policy an option stands for (README, "Timeouts and retries"); undefined means no retry. */
export function resolvePolicy(option: RetryOption | undefined): Policy | undefined {
  if (option === undefined) return undefined;
  const o = typeof option === 'number' ? { attempts: option } : option;
  if (o.attempts === 1) return undefined;
  return {
    attempts: o.attempts,
    backoff: o.backoff ?? 'exponential',
    delay: o.delay ?? 1_000,
    maxDelay: o.maxDelay ?? 30_000,
    jitter: o.jitter ?? false,
  };
}

export class ModelItem {
  id: string | undefined = undefined;
  state: State = 'pending';
  readonly runs: Run[] = [];
  /** Set once it has failed and waits out its retry delay; `retryAt` comes with the `retrying` event. */
  waitingRetry = false;
  retryAt: number | undefined = undefined;
  /** Order in which retry timers were set: timers due the same millisecond fire in that order. */
  retrySeq = 0;
  expected: Expected | undefined = undefined;
  /** The reason its signal aborted with when it was cancelled while running; `result` must reject with the same. */
  cancelSignalReason: unknown = undefined;
  /** Failures followed by a retry (each one a `retrying` event). */
  retries = 0;

  constructor(
    /** Position in the program, for messages. */
    readonly index: number,
    readonly name: string | undefined,
    readonly timeout: number | undefined,
    readonly retry: Policy | undefined,
    /** Its function listens to its signal from the start, so every abort must reach it. */
    readonly listens: boolean,
    readonly group: string | undefined = undefined,
  ) {}

  /** How the queue names it in logs and drain reports. */
  get label(): string {
    return this.name === undefined ? `#${this.id}` : `#${this.id} "${this.name}"`;
  }

  get ended(): boolean {
    return this.state === 'succeeded' || this.state === 'failed' || this.state === 'cancelled';
  }

  toString(): string {
    return `item ${this.index}${this.id === undefined ? '' : ` (#${this.id})`}`;
  }
}

export interface ModelWaiter {
  readonly item: ModelItem;
  /** `waiting` in enqueueAsync; `admitted` once accepted; `aborted` by its signal; `closed` by close(). */
  state: 'waiting' | 'admitted' | 'aborted' | 'closed';
}

export class QueueModel {
  /** Accepted items, in the order they were accepted. */
  readonly items: ModelItem[] = [];
  readonly waiters: ModelWaiter[] = [];
  /** The queue proper, head first: accepted items, and retried items whose delay is over. */
  private readonly ready: ModelItem[] = [];
  /** Failed items waiting out their retry delay. */
  private readonly retrying: ModelItem[] = [];
  /**
   * Per group: the item admitted to the queue (pending in `ready` or retrying, or running) and those behind it, in
   * enqueue order. Only the admitted one is in `ready`; the next joins the back of it when the admitted one ends.
   */
  private readonly groups = new Map<string, { admitted: ModelItem; line: ModelItem[] }>();
  /** pause() holds new starts until resume(), unless the queue has closed (it drains all the same). */
  paused = false;
  /** The highest concurrency set so far: after setConcurrency() lowers it, more may still be running. */
  highestConcurrency: number;
  /** Functions that have been called and have not returned yet, as they count themselves. */
  functionsRunning = 0;
  closed = false;
  /** The items the harness is cancelling right now (their functions' signals may abort inside the call). */
  readonly cancelling = new Set<ModelItem>();
  /** The deadline given to drain() has passed. */
  deadlinePassed = false;
  /** What the drain report must list: the items still pending or running when the deadline passed. */
  readonly deadlineCancelled = { pending: [] as ModelItem[], running: [] as ModelItem[] };
  private retrySeq = 0;

  /** When each function was called (retries included), for the rate limit. */
  private readonly starts: number[] = [];

  constructor(
    public concurrency: number,
    readonly capacity: number,
    readonly rateLimit: { max: number; per: number } | undefined = undefined,
  ) {
    this.highestConcurrency = concurrency;
  }

  /** Whether the rate limit lets a function start at `now`: fewer than `max` started in the `per` ms before. */
  private allowed(now: number): boolean {
    if (this.rateLimit === undefined) return true;
    const from = now - this.rateLimit.per;
    return this.starts.filter((t) => t > from).length < this.rateLimit.max;
  }

  setConcurrency(concurrency: number): void {
    this.concurrency = concurrency;
    this.highestConcurrency = Math.max(this.highestConcurrency, concurrency);
  }

  /** Whether pause() holds starts now. */
  get holding(): boolean {
    return this.paused && !this.closed;
  }

  count(state: State): number {
    return this.items.filter((item) => item.state === state).length;
  }

  /** Nothing pending or running: when onIdle() resolves. */
  get idle(): boolean {
    return this.count('pending') === 0 && this.count('running') === 0;
  }

  /** Idle, and every function has returned: when drain() resolves. */
  get settled(): boolean {
    return this.idle && this.functionsRunning === 0;
  }

  /** Everything the program started has finished. */
  get done(): boolean {
    return this.settled && !this.waiters.some((w) => w.state === 'waiting');
  }

  /** What enqueue() must do now. */
  admission(): 'closed' | 'full' | 'accept' {
    if (this.closed) return 'closed';
    return this.count('pending') >= this.capacity ? 'full' : 'accept';
  }

  /** What enqueueAsync() must do now, given a signal that has not aborted. Waiters are admitted in call order. */
  asyncAdmission(): 'closed' | 'wait' | 'accept' {
    if (this.closed) return 'closed';
    const someoneWaits = this.waiters.some((w) => w.state === 'waiting');
    return someoneWaits || this.count('pending') >= this.capacity ? 'wait' : 'accept';
  }

  accept(item: ModelItem): void {
    this.items.push(item);
    if (item.group !== undefined) {
      const group = this.groups.get(item.group);
      if (group !== undefined) {
        group.line.push(item);
        return;
      }
      this.groups.set(item.group, { admitted: item, line: [] });
    }
    this.ready.push(item);
  }

  /** An item has ended: if it was its group's admitted item, the next live one of the group joins the queue. */
  private release(item: ModelItem): void {
    if (item.group === undefined) return;
    const group = this.groups.get(item.group);
    if (group === undefined || group.admitted !== item) return;
    const next = group.line.shift();
    if (next === undefined) {
      this.groups.delete(item.group);
      return;
    }
    group.admitted = next;
    this.ready.push(next);
  }

  wait(waiter: ModelWaiter): void {
    this.waiters.push(waiter);
  }

  /**
   * A function was called. `allTimersDue` is false while the harness is advancing the clock: then a retry timer due
   * this very millisecond may not have fired yet, and the model cannot tell whether that item is back in the queue.
   */
  started(item: ModelItem, attempt: number, now: number, allTimersDue: boolean): void {
    check(item.state === 'pending', () => `${item} started while ${item.state}`);
    check(attempt === item.runs.length + 1, () => `${item} started attempt ${attempt}, expected ${item.runs.length + 1}`);
    check(this.functionsRunning < this.concurrency, () => `concurrency exceeded: ${item} started while ${this.functionsRunning} functions were running (concurrency ${this.concurrency})`);
    check(!this.holding, () => `${item} started while the queue is paused`);
    check(this.allowed(now), () => `rate limit exceeded: ${item} started at ${now}, after ${this.rateLimit!.max} starts in the last ${this.rateLimit!.per} ms (${this.starts.join(', ')})`);
    this.starts.push(now);
    this.promoteRetries(now, allTimersDue, item);
    check(this.ready[0] === item, () => `FIFO order: ${item} started, but ${this.ready[0] ?? 'nothing'} is at the head of the queue (queue: ${this.ready.join(', ')})`);
    this.ready.shift();
    item.state = 'running';
    item.runs.push({ start: now, abandoned: false, aborted: false, returned: false });
    this.functionsRunning++;
    this.admitWaiters();
  }

  /** A function returned (or threw, or its promise settled). */
  returned(item: ModelItem, attempt: number, ok: boolean, outcome: unknown, now: number): void {
    const run = item.runs[attempt - 1];
    check(run !== undefined && !run.returned, () => `${item} attempt ${attempt} returned twice or never started`);
    run.returned = true;
    this.functionsRunning--;
    if (run.abandoned) return;
    check(item.state === 'running' && attempt === item.runs.length, () => `${item} attempt ${attempt} returned while the item is ${item.state}`);
    if (item.timeout !== undefined) {
      const took = now - run.start;
      check(took < item.timeout, () => `${item} ran ${took} ms, past its ${item.timeout} ms timeout, and was not timed out`);
    }
    if (ok) {
      item.state = 'succeeded';
      item.expected = { kind: 'value', value: outcome };
      this.release(item);
    } else {
      this.failAttempt(item, outcome);
    }
  }

  /** A function saw its signal abort. */
  aborted(item: ModelItem, attempt: number, reason: unknown, now: number): void {
    const run = item.runs[attempt - 1];
    check(run !== undefined && !run.aborted && !run.returned, () => `${item} attempt ${attempt}: signal aborted twice, or after the function returned`);
    run.aborted = true;
    const current = item.state === 'running' && attempt === item.runs.length && !run.abandoned;
    if (reason instanceof TimeoutError) {
      check(current, () => `${item} timed out while ${item.state}`);
      check(item.timeout !== undefined && reason.timeout === item.timeout, () => `${item} timed out after ${reason.timeout} ms, its timeout is ${item.timeout}`);
      check(now === run.start + item.timeout, () => `${item} timed out ${now - run.start} ms after it started, its timeout is ${item.timeout} ms`);
      run.abandoned = true;
      this.failAttempt(item, reason);
      return;
    }
    check(reason instanceof CancelledError, () => `${item}: signal aborted with ${String(reason)}, expected a TimeoutError or a CancelledError`);
    const byHarness = current && this.cancelling.has(item);
    const atDeadline = run.abandoned && item.state === 'cancelled' && item.expected?.kind === 'cancelled' && item.expected.atDeadline;
    check(byHarness || atDeadline, () => `${item}: signal aborted with a CancelledError though nothing cancelled it`);
    run.abandoned = true;
    item.cancelSignalReason = reason;
  }

  /** A `late` function read its signal only when it was about to return. */
  signalReadLate(item: ModelItem, attempt: number, aborted: boolean, reason: unknown): void {
    const run = item.runs[attempt - 1]!;
    check(aborted === run.abandoned, () => `${item} attempt ${attempt}: signal.aborted is ${aborted} though the item was ${run.abandoned ? '' : 'not '}cancelled`);
    if (aborted) {
      check(reason instanceof CancelledError, () => `${item}: a signal read after cancellation has reason ${String(reason)}`);
      item.cancelSignalReason = reason;
    }
  }

  /** The `retrying` event: the item waits `delay` ms and then goes back to the head of the queue. */
  retryScheduled(item: ModelItem, attempt: number, delay: number, now: number): void {
    check(item.waitingRetry && item.retryAt === undefined, () => `${item}: unexpected retrying event (state ${item.state})`);
    check(attempt === item.runs.length, () => `${item}: retrying event for attempt ${attempt}, it ran ${item.runs.length}`);
    const policy = item.retry!;
    const base = policy.backoff === 'fixed' ? policy.delay : policy.delay * 2 ** (attempt - 1);
    const capped = Math.min(base, policy.maxDelay);
    const allowed = policy.jitter ? delay >= Math.floor(capped / 2) && delay <= capped : delay === capped;
    check(allowed, () => `${item}: retry delay ${delay} ms after attempt ${attempt}, policy ${JSON.stringify(policy)} gives ${policy.jitter ? `[${capped / 2}, ${capped}]` : capped}`);
    item.retryAt = now + delay;
    item.retrySeq = ++this.retrySeq;
  }

  /** The harness cancelled the item (cancel(), its signal, or enqueue with an aborted signal). False if it had ended. */
  cancel(item: ModelItem, reason: unknown, atDeadline = false): boolean {
    if (item.state === 'pending') {
      this.remove(this.ready, item);
      this.remove(this.retrying, item);
      if (item.group !== undefined) this.remove(this.groups.get(item.group)?.line ?? [], item);
      item.waitingRetry = false;
    } else if (item.state === 'running') {
      item.runs.at(-1)!.abandoned = true;
    } else {
      return false;
    }
    item.state = 'cancelled';
    item.expected = { kind: 'cancelled', reason, atDeadline };
    this.release(item);
    this.admitWaiters();
    return true;
  }

  /** An enqueueAsync() caller's signal aborted while it waited. */
  abortWaiter(waiter: ModelWaiter): void {
    waiter.state = 'aborted';
  }

  close(): void {
    this.closed = true;
    for (const waiter of this.waiters) if (waiter.state === 'waiting') waiter.state = 'closed';
  }

  /** The drain deadline passed: whatever is still pending or running is cancelled. */
  deadline(): void {
    this.deadlinePassed = true;
    if (this.settled) return; // the drain has already returned
    for (const item of this.items) {
      if (item.state === 'pending') this.deadlineCancelled.pending.push(item);
      else if (item.state === 'running') this.deadlineCancelled.running.push(item);
      else continue;
      this.cancel(item, undefined, true);
    }
  }

  /**
   * Checks that hold between commands, when every timer due so far has fired: no item waits while a slot is free,
   * no running item has outlived its timeout, and every function the item moved on from saw its signal abort.
   */
  checkQuiescent(now: number): void {
    this.promoteRetries(now, true);
    check(
      this.ready.length === 0 || this.functionsRunning >= this.concurrency || this.holding || !this.allowed(now),
      () => `${this.ready[0]} waits although only ${this.functionsRunning} of ${this.concurrency} slots are taken and the rate limit allows a start`,
    );
    for (const item of this.items) {
      if (item.state === 'running' && item.timeout !== undefined) {
        const start = item.runs.at(-1)!.start;
        check(now < start + item.timeout, () => `${item} is still running ${now - start} ms after it started, past its ${item.timeout} ms timeout`);
      }
      if (!item.listens) continue;
      const missed = item.runs.findIndex((run) => run.abandoned && !run.aborted);
      check(missed < 0, () => `${item} attempt ${missed + 1} was ${item.state === 'cancelled' ? 'cancelled' : 'timed out'} but its signal did not abort`);
    }
  }

  private failAttempt(item: ModelItem, error: unknown): void {
    if (item.retry !== undefined && item.runs.length < item.retry.attempts) {
      item.retries++;
      item.state = 'pending';
      item.waitingRetry = true;
      item.retryAt = undefined;
      this.retrying.push(item);
    } else {
      item.state = 'failed';
      item.expected = { kind: 'error', error };
      this.release(item);
    }
  }

  /**
   * Retried items whose delay is over go to the head of the queue, each in front of those before it: the later a
   * timer fired, the nearer the head. A timer due exactly `now` has fired if `allDue`, or if it was set no later
   * than that of the item now starting (timers due the same millisecond fire in the order they were set).
   */
  private promoteRetries(now: number, allDue: boolean, starting?: ModelItem): void {
    const due = this.retrying.filter((item) => {
      check(item.retryAt !== undefined, () => `${item} failed and waits for a retry, but no retrying event said when`);
      if (item.retryAt !== now) return item.retryAt < now;
      if (allDue) return true;
      return starting !== undefined && starting.waitingRetry && starting.retryAt === now && item.retrySeq <= starting.retrySeq;
    });
    due.sort((a, b) => a.retryAt! - b.retryAt! || a.retrySeq - b.retrySeq);
    for (const item of due) {
      this.remove(this.retrying, item);
      item.waitingRetry = false;
      this.ready.unshift(item);
    }
  }

  private admitWaiters(): void {
    while (!this.closed && this.count('pending') < this.capacity) {
      const waiter = this.waiters.find((w) => w.state === 'waiting');
      if (waiter === undefined) return;
      waiter.state = 'admitted';
      this.accept(waiter.item);
    }
  }

  private remove(list: ModelItem[], item: ModelItem): void {
    const at = list.indexOf(item);
    if (at >= 0) list.splice(at, 1);
  }
}
