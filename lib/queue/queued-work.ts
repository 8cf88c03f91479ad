import type { ResolvedRetryPolicy } from './retry-policy.js';
import type { Attempt } from './attempt.js';
import type { WorkFunction, WorkItem, WorkState } from './work-item.js';

/**
 * What telemetry needs of an item between its enqueue and its attempts: the producer's context (a context object
 * for a closure, a job's stored trace text) and when it became ready to start (epoch ms), for the wait histogram.
 * Set only when the app has OpenTelemetry.
 */
export interface SentMark {
  trace: unknown;
  readyAt: number;
}

let lastId = 0;
const ignore = (): void => {};

/**
 * What an item fed by another source (a stored job) asks of the engine at each step, so that timeouts, retries,
 * cancellation, drain and the zombie-slot rules exist once. Closures have none and pay nothing for it.
 */
export interface WorkHooks {
  /** Whether the item's source keeps it past the process: then shutdown hands it back instead of cancelling it. */
  readonly durable: boolean;
  started(item: QueuedWork<any>): void;
  progress(item: QueuedWork<any>, value: number): void;
  /** An attempt failed and the policy allows another: the source schedules it (in its store), not the engine's timer. */
  retry(item: QueuedWork<any>, error: unknown, delay: number): void;
  ended(item: QueuedWork<any>, state: 'succeeded' | 'failed' | 'cancelled', outcome: unknown): void;
  /** Cut off by shutdown (or never started before it): back to the source, the attempt not charged. */
  handBack(item: QueuedWork<any>): void;
  /** When the item became due (`Date.now()` time), for `stats().waitMs`: its wait began before it was claimed. */
  dueAt(item: QueuedWork<any>): number;
}

/** The queue side of a `WorkItem`: the parts of it that only the owning queue changes. */
export interface WorkOwner {
  cancelItem(item: QueuedWork<any>, reason: unknown): boolean;
  /** The item has ended: let go of its caller signal. */
  unlinkSignal(item: QueuedWork<any>): void;
}

/**
 * One accepted work item. Its result promise is made only when somebody reads `result`, and it is always marked
 * handled: a failure nobody awaits is the queue's to log, never an unhandled rejection.
 */
export class QueuedWork<T> implements WorkItem<T> {
  readonly id: string;
  state: WorkState = 'pending';
  attempt = 0;
  progress: number | undefined = undefined;
  /** The attempt that owns the item now, while it is running. */
  current: Attempt | undefined = undefined;
  /** Set while the item waits out a delay: its `delay` option's, or a retry's. */
  timer: NodeJS.Timeout | undefined = undefined;
  /** Its `group` option: it starts only after the items of its group enqueued before it have ended. */
  group: string | undefined = undefined;
  /** When it could start (enqueued, or its delay over; `sampleClock()`), for `stats().waitMs`: -1 unless sampled. */
  readyAt = -1;
  /** The caller's signal, linked until the item ends. */
  signal: AbortSignal | undefined = undefined;
  private outcome: unknown = undefined;
  private promise: Promise<T> | undefined = undefined;
  private resolve: ((value: T) => void) | undefined = undefined;
  private boundCancel: ((reason?: unknown) => boolean) | undefined = undefined;
  private reject: ((error: unknown) => void) | undefined = undefined;
  /** Set on an item of another source; see `WorkHooks`. */
  hooks: WorkHooks | undefined = undefined;
  /** Shutdown's deadline aborted this durable item's signal: whatever it does now, it goes back to its source. */
  interrupted = false;
  /** Ended by going back to its source unfinished (shown as cancelled to anything holding the item). */
  handedBack = false;
  /** Telemetry's mark, when the app has OpenTelemetry. */
  sent: SentMark | undefined = undefined;

  constructor(
    private readonly owner: WorkOwner,
    public fn: WorkFunction<T> | undefined,
    readonly name: string | undefined,
    readonly timeout: number | undefined,
    readonly retry: ResolvedRetryPolicy | undefined,
    readonly priority: number,
    id?: string,
  ) {
    this.id = id ?? String(++lastId);
  }

  get result(): Promise<T> {
    if (this.promise === undefined) {
      if (this.state === 'succeeded') {
        this.promise = Promise.resolve(this.outcome as T);
      } else if (this.state === 'failed' || this.state === 'cancelled') {
        this.promise = Promise.reject(this.outcome);
        this.promise.catch(ignore);
      } else {
        this.promise = new Promise<T>((resolve, reject) => {
          this.resolve = resolve;
          this.reject = reject;
        });
        this.promise.catch(ignore);
      }
    }
    return this.promise;
  }

  /** Bound on first read, so that `const { cancel } = item` works too, without a closure per item up front. */
  get cancel(): (reason?: unknown) => boolean {
    return (this.boundCancel ??= (reason?: unknown) => this.owner.cancelItem(this, reason));
  }

  /** Moves the item to its terminal state and settles `result`. */
  settle(state: 'succeeded' | 'failed' | 'cancelled', outcome: unknown): void {
    this.state = state;
    this.outcome = outcome;
    this.current = undefined;
    this.fn = undefined;
    if (this.signal !== undefined) {
      this.owner.unlinkSignal(this);
      this.signal = undefined;
    }
    if (state === 'succeeded') this.resolve?.(outcome as T);
    else this.reject?.(outcome);
    this.resolve = this.reject = undefined;
  }

  /** `#12 "send-email"`: how logs name the item. */
  get label(): string {
    return this.name === undefined ? `#${this.id}` : `#${this.id} "${this.name}"`;
  }
}
