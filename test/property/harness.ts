import type { Logger } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { vi } from 'vitest';
import { BackgroundQueue, type DrainReport } from '../../lib/queue/background-queue.js';
import { CancelledError, QueueClosedError, QueueFullError } from '../../lib/queue/queue.errors.js';
import { resolveQueueOptions } from '../../lib/queue/resolve-queue-options.js';
import type { WorkEvent } from '../../lib/queue/work-event.js';
import type { EnqueueOptions, WorkFunction, WorkItem } from '../../lib/queue/work-item.js';
import type { AttemptScript, CancelReason, Command, ItemSpec, Program, QueueConfig, SignalUse } from './arbitraries.js';
import { ModelItem, QueueModel, check, resolvePolicy, type ModelWaiter } from './queue-model.js';

/*
 * Runs one program against a real BackgroundQueue under Vitest's fake timers, telling the model what happens.
 *
 * While it runs, the model checks each event: a function starts only when a slot is free (counted by the functions
 * themselves, abandoned ones included) and only if it is at the head of the queue (FIFO; a retried item goes back
 * to the head when its delay is over); a timeout fires exactly `timeout` ms after its attempt started; a signal
 * aborts only when the item is timed out or cancelled, with a TimeoutError or a CancelledError; retry delays follow
 * the policy.
 *
 * After every command, with the queue at rest (`check`): enqueue() threw QueueFullError exactly when `capacity`
 * items were pending and QueueClosedError after close(); stats() add up to the accepted items and match the model;
 * each item's state and attempt match; `result` has settled exactly when the item has ended, once, with its value,
 * the error of its last attempt (the TimeoutError itself after a timeout) or a CancelledError; enqueueAsync()
 * resolved, rejected or still waits as the model says; every onIdle() promise has resolved exactly if nothing is
 * pending or running; drain() has resolved exactly when every item has ended and every function returned, with
 * the items the deadline cancelled in its report; no item waits while a slot is free; no timeout was missed.
 *
 * At the end (`finish`), time runs out: every item must have ended, and the event and error-log counts match.
 */

/**
 * drain()'s grace period is an AbortSignal.timeout, which runs on real time even under fake timers. Every work
 * function returns in fake time, so a grace that never elapses during a run makes drain() resolve exactly when the
 * last function returns.
 */
const GRACE_MS = 600_000;

/** Runs the microtasks (and nothing else: no timer is due) so that the queue is at rest. */
const flush = (): Promise<unknown> => vi.advanceTimersByTimeAsync(0);

interface Settlement {
  count: number;
  ok: boolean;
  value: unknown;
}

function settlement(promise: Promise<unknown>): Settlement {
  const s: Settlement = { count: 0, ok: false, value: undefined };
  promise.then(
    (value) => Object.assign(s, { count: s.count + 1, ok: true, value }),
    (error: unknown) => Object.assign(s, { count: s.count + 1, ok: false, value: error }),
  );
  return s;
}

/** One item the program tried to add, accepted or not. */
interface Tracked {
  readonly spec: ItemSpec;
  readonly model: ModelItem;
  readonly signalUse: SignalUse;
  readonly controller: AbortController | undefined;
  /** Accepted or waiting with its signal: aborting the signal concerns it. */
  linked: boolean;
  handle: WorkItem<unknown> | undefined;
  result: Settlement | undefined;
  /** enqueueAsync() only: its promise, and where the model says the call is. */
  asyncResult: Settlement | undefined;
  waiter: ModelWaiter | undefined;
}

function reasonFor(kind: CancelReason): unknown {
  switch (kind) {
    case 'none':
      return undefined;
    case 'text':
      return 'stop it';
    case 'error':
      return new Error('stop it');
    case 'cancelled':
      return new CancelledError('stopped by the program');
  }
}

function outcomeOf(item: ModelItem, attempt: number, script: AttemptScript): { ok: boolean; value: unknown } {
  const tag = `${item} attempt ${attempt}`;
  switch (script.outcome) {
    case 'ok':
      return { ok: true, value: { tag } };
    case 'error':
      return { ok: false, value: new Error(`${tag} failed`) };
    case 'string':
      return { ok: false, value: `${tag} failed` };
    case 'object':
      return { ok: false, value: { failed: tag } };
    case 'undefined':
      return { ok: false, value: undefined };
  }
}

const sorted = (labels: string[]): string => JSON.stringify(labels.toSorted());

export class Harness {
  readonly model: QueueModel;
  readonly queue: BackgroundQueue;
  private readonly tracked: Tracked[] = [];
  private readonly byId = new Map<string, Tracked>();
  private readonly events = new Map<WorkEvent['type'], number>();
  private readonly subscription: Subscription;
  private errorLogs = 0;
  /** The first violation seen inside a callback (a work function, a timer, an event), thrown at the next check. */
  private failure: unknown = undefined;
  /** Whether the clock is being advanced: then timers due the current millisecond may not all have fired. */
  private advancing = false;
  private idleWaits: { resolved: boolean }[] = [];
  private drained: Settlement | undefined = undefined;

  constructor(private readonly config: QueueConfig) {
    this.model = new QueueModel(config.concurrency, config.capacity, config.rateLimit);
    const raw: Record<string, unknown> = { concurrency: config.concurrency, capacity: config.capacity };
    if (config.timeout !== undefined) raw.timeout = config.timeout;
    if (config.retry !== undefined) raw.retry = config.retry;
    if (config.rateLimit !== undefined) raw.rateLimit = config.rateLimit;
    const logger = { log: () => {}, warn: () => {}, error: () => void this.errorLogs++ } as unknown as Logger;
    this.queue = new BackgroundQueue('property', resolveQueueOptions('queue', raw), logger);
    this.subscription = this.queue.events$.subscribe((event) => this.observe(() => this.onEvent(event)));
  }

  dispose(): void {
    this.subscription.unsubscribe();
  }

  async run(command: Command): Promise<void> {
    switch (command.type) {
      case 'enqueue':
        return this.enqueue(command.item);
      case 'enqueueAsync':
        return this.enqueueAsync(command.item);
      case 'cancel':
        return this.cancel(command.pick, command.reason);
      case 'advance':
        return this.advance(() => vi.advanceTimersByTimeAsync(command.ms));
      case 'close':
        return this.close();
      case 'drain':
        return this.drain(command.deadline);
      case 'pause':
        this.queue.pause();
        this.model.paused = true;
        return;
      case 'resume':
        this.queue.resume();
        this.model.paused = false;
        return;
      case 'setConcurrency':
        this.queue.setConcurrency(command.concurrency);
        this.model.setConcurrency(command.concurrency);
        return;
    }
  }

  /** Compares the queue with the model; called between commands, when the queue is at rest. */
  async check(): Promise<void> {
    this.throwIfFailed();
    this.model.checkQuiescent(Date.now());
    this.checkStats();
    const idle = { resolved: false };
    void this.queue.onIdle().then(() => (idle.resolved = true));
    this.idleWaits.push(idle);
    await flush();
    this.throwIfFailed();
    for (const t of this.tracked) this.checkItem(t);
    const isIdle = this.model.idle;
    check(
      this.idleWaits.every((w) => w.resolved === isIdle),
      () => `onIdle() ${isIdle ? 'has not resolved though nothing is' : 'resolved while items are'} pending or running (${this.describe()})`,
    );
    this.idleWaits = this.idleWaits.filter((w) => !w.resolved);
    if (this.drained !== undefined) this.checkDrain(this.drained);
  }

  /** Lets time run out: advances until every item has ended and every function has returned. */
  async finish(): Promise<void> {
    // A program may end paused: resume, or the queue would rightly stall.
    if (this.model.paused) {
      this.queue.resume();
      this.model.paused = false;
      await flush(); // the items it lets start set their timers
    }
    // Not vi.advanceTimersToNextTimerAsync(): it runs the other timers due the same millisecond synchronously, with
    // no microtask turn between them, which neither Node nor advanceTimersByTimeAsync() does.
    await this.advance(async () => {
      for (let i = 0; i < 1_000 && !(this.model.done && this.drained?.count !== 0) && vi.getTimerCount() > 0; i++) {
        await vi.advanceTimersByTimeAsync(1_000);
        this.throwIfFailed();
      }
    });
    await this.check();
    check(this.model.done, () => `the queue stalled with no timer left: ${this.describe()}`);
    for (const t of this.tracked) {
      if (t.handle !== undefined && t.result === undefined) t.result = settlement(t.handle.result);
    }
    if (!this.model.closed) this.close();
    const lastDrain = settlement(this.queue.drain(new AbortController().signal, GRACE_MS));
    await flush();
    for (const t of this.tracked) {
      check(t.model.id === undefined || t.handle !== undefined, () => `${t.model} ran but enqueueAsync never gave its item`);
      this.checkItem(t);
    }
    check(lastDrain.count === 1 && lastDrain.ok, () => `drain() of a settled queue did not resolve at once`);
    const report = lastDrain.value as DrainReport;
    check(report.cancelledPending.length + report.cancelledRunning.length + report.abandoned.length === 0, () => `drain() of a settled queue reported ${JSON.stringify(report)}`);

    const items = this.model.items;
    const expectEvents = {
      enqueued: items.length,
      started: items.reduce((sum, item) => sum + item.runs.length, 0),
      retrying: items.reduce((sum, item) => sum + item.retries, 0),
      succeeded: this.model.count('succeeded'),
      failed: this.model.count('failed'),
      cancelled: this.model.count('cancelled'),
    };
    for (const [type, count] of Object.entries(expectEvents)) {
      const seen = this.events.get(type as WorkEvent['type']) ?? 0;
      check(seen === count, () => `${seen} ${type} events, expected ${count}`);
    }
    check(this.errorLogs === expectEvents.failed, () => `${this.errorLogs} errors logged for ${expectEvents.failed} failed items`);
  }

  // ---- commands ------------------------------------------------------------------------------------------------

  private enqueue(spec: ItemSpec): void {
    const t = this.track(spec);
    const admission = this.model.admission();
    let handle: WorkItem<unknown> | undefined;
    let thrown: unknown;
    try {
      handle = this.queue.enqueue(this.work(t), this.options(t));
    } catch (error) {
      thrown = error;
    }
    if (admission !== 'accept') {
      const expected = admission === 'closed' ? QueueClosedError : QueueFullError;
      check(thrown instanceof expected, () => `enqueue() should throw ${expected.name} (${this.describe()}), it ${thrown === undefined ? 'accepted the item' : `threw ${String(thrown)}`}`);
      return;
    }
    check(handle !== undefined, () => `enqueue() threw ${String(thrown)} (${this.describe()})`);
    this.model.accept(t.model);
    this.link(t, handle);
    this.armSignal(t);
  }

  private enqueueAsync(spec: ItemSpec): void {
    const t = this.track(spec);
    const waiter: ModelWaiter = { item: t.model, state: 'waiting' };
    t.waiter = waiter;
    const admission = this.model.closed ? 'closed' : t.controller?.signal.aborted ? 'aborted' : this.model.asyncAdmission();
    const promise = this.queue.enqueueAsync(this.work(t), this.options(t));
    t.asyncResult = settlement(promise);
    void promise.then((handle) => this.observe(() => this.link(t, handle)), () => {});
    if (admission === 'closed' || admission === 'aborted') {
      waiter.state = admission;
      return;
    }
    if (admission === 'accept') {
      waiter.state = 'admitted';
      this.model.accept(t.model);
    } else {
      this.model.wait(waiter);
    }
    this.armSignal(t);
  }

  private cancel(pick: number, kind: CancelReason): void {
    const candidates = this.tracked.filter((t) => t.handle !== undefined);
    if (candidates.length === 0) return;
    const t = candidates[pick % candidates.length]!;
    const reason = reasonFor(kind);
    const returned = this.cancelling([t], () => (kind === 'none' ? t.handle!.cancel() : t.handle!.cancel(reason)));
    this.throwIfFailed();
    const expected = this.model.cancel(t.model, reason);
    check(returned === expected, () => `cancel() of ${t.model} returned ${returned}, the item was ${expected ? 'live' : 'ended'}`);
  }

  private close(): void {
    this.queue.close();
    this.model.close();
  }

  private drain(deadlineMs: number): void {
    if (!this.model.closed) this.close();
    const deadline = new AbortController();
    setTimeout(
      () =>
        this.observe(() => {
          deadline.abort();
          this.model.deadline();
        }),
      deadlineMs,
    );
    this.drained = settlement(this.queue.drain(deadline.signal, GRACE_MS));
  }

  private async advance(run: () => Promise<unknown>): Promise<void> {
    this.advancing = true;
    try {
      await run();
    } finally {
      this.advancing = false;
    }
  }

  // ---- items ---------------------------------------------------------------------------------------------------

  private track(spec: ItemSpec): Tracked {
    const timeout = spec.timeout === undefined ? this.config.timeout : spec.timeout === Infinity ? undefined : spec.timeout;
    const retry = resolvePolicy(spec.retry === undefined ? this.config.retry : spec.retry);
    // Every timeout must be seen by the model: an item with one listens to its signal.
    const signalUse = timeout !== undefined && (spec.signal === 'none' || spec.signal === 'late') ? 'ignore' : spec.signal;
    const model = new ModelItem(this.tracked.length, spec.name, timeout, retry, signalUse === 'honour' || signalUse === 'ignore', spec.group);
    let controller: AbortController | undefined;
    if (spec.abortAfter !== undefined) {
      controller = spec.shareSignal ? this.tracked.findLast((t) => t.controller !== undefined)?.controller : undefined;
      controller ??= this.newController(spec);
    }
    const t: Tracked = { spec, model, signalUse, controller, linked: false, handle: undefined, result: undefined, asyncResult: undefined, waiter: undefined };
    this.tracked.push(t);
    return t;
  }

  private options(t: Tracked): EnqueueOptions | undefined {
    const options: EnqueueOptions = {};
    if (t.spec.name !== undefined) options.name = t.spec.name;
    if (t.spec.timeout !== undefined) options.timeout = t.spec.timeout;
    if (t.spec.retry !== undefined) options.retry = t.spec.retry;
    if (t.controller !== undefined) options.signal = t.controller.signal;
    if (t.spec.group !== undefined) options.group = t.spec.group;
    return Object.keys(options).length === 0 ? undefined : options;
  }

  /** The queue's handle for a tracked item: from enqueue(), or when enqueueAsync() resolves. */
  private link(t: Tracked, handle: WorkItem<unknown>): void {
    check(t.handle === undefined, () => `${t.model} got two handles`);
    check(t.model.id === undefined || t.model.id === handle.id, () => `${t.model}: enqueueAsync() gave item #${handle.id}, its function ran as #${t.model.id}`);
    t.handle = handle;
    this.setId(t, handle.id);
    if (t.spec.readResult === 'early') t.result = settlement(handle.result);
  }

  private setId(t: Tracked, id: string): void {
    t.model.id = id;
    this.byId.set(id, t);
  }

  /** A caller signal, already aborted or aborted by a timer later; items may share it. */
  private newController(spec: ItemSpec): AbortController {
    const controller = new AbortController();
    const reason = reasonFor(spec.abortReason);
    if (spec.abortAfter === 0) {
      controller.abort(reason);
      return controller;
    }
    setTimeout(
      () =>
        this.observe(() => {
          const sharers = this.tracked.filter((t) => t.controller === controller && t.linked);
          this.cancelling(sharers, () => controller.abort(reason));
          // Callers still waiting in enqueueAsync() are rejected; the room freed by cancelled items is not theirs.
          for (const t of sharers) if (t.waiter?.state === 'waiting') this.model.abortWaiter(t.waiter);
          for (const t of sharers) if (t.waiter === undefined || t.waiter.state === 'admitted') this.model.cancel(t.model, controller.signal.reason);
        }),
      spec.abortAfter!,
    );
    return controller;
  }

  /** The item was accepted (or its enqueueAsync() call waits) with its signal. */
  private armSignal(t: Tracked): void {
    if (t.controller === undefined) return;
    t.linked = true;
    // enqueue() with an aborted signal returns an item that is already cancelled.
    if (t.controller.signal.aborted) this.model.cancel(t.model, t.controller.signal.reason);
  }

  private cancelling<T>(items: Tracked[], cancel: () => T): T {
    for (const t of items) this.model.cancelling.add(t.model);
    try {
      return cancel();
    } finally {
      this.model.cancelling.clear();
    }
  }

  /** The work function: reports to the model when it starts, sees its signal abort, and returns. */
  private work(t: Tracked): WorkFunction<unknown> {
    const model = t.model;
    return (ctx) => {
      const attempt = ctx.attempt;
      this.observe(() => {
        if (model.id === undefined) this.setId(t, ctx.id);
        check(ctx.id === model.id, () => `${model}: its function ran as #${ctx.id}`);
        this.model.started(model, attempt, Date.now(), !this.advancing);
      });
      const script = t.spec.script[Math.min(attempt, t.spec.script.length) - 1]!;
      const outcome = outcomeOf(model, attempt, script);
      let returned = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let rejectNow: ((reason: unknown) => void) | undefined;
      const ret = (ok: boolean, value: unknown): void => {
        returned = true;
        this.observe(() => this.model.returned(model, attempt, ok, value, Date.now()));
      };

      if (t.signalUse === 'honour' || t.signalUse === 'ignore') {
        const signal = ctx.signal;
        const onAbort = (): void => {
          this.observe(() => this.model.aborted(model, attempt, signal.reason, Date.now()));
          if (t.signalUse === 'honour' && !returned) {
            clearTimeout(timer);
            ret(false, signal.reason);
            rejectNow?.(signal.reason);
          }
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }

      if (script.delay === 0) {
        ret(outcome.ok, outcome.value);
        if (outcome.ok) return outcome.value;
        throw outcome.value;
      }
      return new Promise((resolve, reject) => {
        rejectNow = reject;
        timer = setTimeout(() => {
          if (t.signalUse === 'late') {
            const { aborted, reason } = ctx.signal;
            this.observe(() => this.model.signalReadLate(model, attempt, aborted, reason));
            if (aborted) {
              ret(false, reason);
              reject(reason);
              return;
            }
          }
          ret(outcome.ok, outcome.value);
          if (outcome.ok) resolve(outcome.value);
          else reject(outcome.value);
        }, script.delay);
      });
    };
  }

  private onEvent(event: WorkEvent): void {
    this.events.set(event.type, (this.events.get(event.type) ?? 0) + 1);
    if (event.type !== 'retrying') return;
    const t = this.byId.get(event.id);
    check(t !== undefined, () => `retrying event for unknown item #${event.id}`);
    this.model.retryScheduled(t.model, event.attempt, event.delay, Date.now());
  }

  // ---- checks --------------------------------------------------------------------------------------------------

  private checkStats(): void {
    const stats = this.queue.stats();
    const m = this.model;
    const expected = {
      pending: m.count('pending'),
      running: m.count('running'),
      succeeded: m.count('succeeded'),
      failed: m.count('failed'),
      cancelled: m.count('cancelled'),
      concurrency: m.concurrency,
      capacity: m.capacity,
    };
    for (const key of Object.keys(expected) as (keyof typeof expected)[]) {
      check(stats[key] === expected[key], () => `stats().${key} is ${stats[key]}, the model says ${expected[key]} (${this.describe()})`);
    }
    const total = stats.pending + stats.running + stats.succeeded + stats.failed + stats.cancelled;
    check(total === m.items.length, () => `stats() add up to ${total} for ${m.items.length} accepted items`);
    check(stats.running <= m.highestConcurrency, () => `stats().running ${stats.running} exceeds the highest concurrency set, ${m.highestConcurrency}`);
  }

  private checkItem(t: Tracked): void {
    const model = t.model;
    if (t.handle !== undefined) {
      check(t.handle.state === model.state, () => `${model} is ${t.handle!.state}, the model says ${model.state}`);
      check(t.handle.attempt === model.runs.length, () => `${model}.attempt is ${t.handle!.attempt}, it ran ${model.runs.length} times`);
    }
    if (t.result !== undefined) this.checkResult(t, t.result);
    if (t.asyncResult !== undefined) {
      const r = t.asyncResult;
      const state = t.waiter!.state;
      const ok =
        state === 'waiting'
          ? r.count === 0
          : state === 'admitted'
            ? r.count === 1 && r.ok && r.value === t.handle
            : state === 'aborted'
              ? r.count === 1 && !r.ok && r.value === t.controller!.signal.reason
              : r.count === 1 && !r.ok && r.value instanceof QueueClosedError;
      check(ok, () => `enqueueAsync() for ${model} should be ${state}, its promise ${r.count === 0 ? 'has not settled' : r.ok ? 'resolved' : `rejected with ${String(r.value)}`}`);
    }
  }

  private checkResult(t: Tracked, r: Settlement): void {
    const model = t.model;
    if (!model.ended) {
      check(r.count === 0, () => `${model}.result settled while it is ${model.state}`);
      return;
    }
    check(r.count === 1, () => `${model}.result has not settled though the item is ${model.state}`);
    const expected = model.expected!;
    const got = r.ok ? `resolved with ${JSON.stringify(r.value)}` : `rejected with ${String(r.value)}`;
    if (expected.kind === 'value') {
      check(r.ok && r.value === expected.value, () => `${model}.result ${got}, expected its value`);
    } else if (expected.kind === 'error') {
      check(!r.ok && r.value === expected.error, () => `${model}.result ${got}, expected ${String(expected.error)}`);
    } else {
      const error = r.value;
      check(!r.ok && error instanceof CancelledError, () => `${model}.result ${got}, expected a CancelledError`);
      if (expected.reason instanceof CancelledError) {
        check(error === expected.reason, () => `${model}.result should reject with the CancelledError it was cancelled with`);
      } else if (!expected.atDeadline) {
        check(error.cause === expected.reason, () => `${model}.result's cause is ${String(error.cause)}, expected ${String(expected.reason)}`);
      }
      if (model.cancelSignalReason !== undefined) {
        check(error === model.cancelSignalReason, () => `${model}.result rejected with another error than its signal's reason`);
      }
    }
  }

  private checkDrain(drained: Settlement): void {
    const settled = this.model.settled;
    check((drained.count === 1) === settled, () => `drain() ${settled ? 'has not resolved though every item has ended and every function returned' : 'resolved while work remains'} (${this.describe()})`);
    if (drained.count === 0) return;
    check(drained.ok, () => `drain() rejected with ${String(drained.value)}`);
    const report = drained.value as DrainReport;
    const { pending, running } = this.model.deadlineCancelled;
    check(
      sorted(report.cancelledPending) === sorted(pending.map((i) => i.label)) && sorted(report.cancelledRunning) === sorted(running.map((i) => i.label)) && report.abandoned.length === 0,
      () => `drain report ${JSON.stringify(report)}, expected pending ${pending.join(', ')} and running ${running.join(', ')}`,
    );
  }

  private observe(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.failure ??= error;
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private describe(): string {
    const m = this.model;
    const items = m.items.map((item) => `${item}: ${item.state}`).join(', ');
    return `t=${Date.now()}, ${m.functionsRunning} functions running, ${m.closed ? 'closed, ' : ''}items [${items}]`;
  }
}

export async function runProgram(program: Program): Promise<void> {
  vi.useFakeTimers({ now: program.startTime });
  const harness = new Harness(program.config);
  try {
    for (const command of program.commands) {
      await harness.run(command);
      await harness.check();
    }
    await harness.finish();
  } finally {
    harness.dispose();
    vi.useRealTimers();
  }
}
