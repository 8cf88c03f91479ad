import { describe } from '../validation.js';
import type { QueuedWork } from './queued-work.js';
import type { WorkContext } from './work-item.js';
import type { AttemptSpan } from '../telemetry/work-telemetry.js';

/** Receives the progress reports of an attempt that still owns its item. */
export interface ProgressSink {
  reportProgress(attempt: Attempt, value: number): void;
}

/**
 * One run of a work item's function: the `WorkContext` it receives. The AbortController is made only when the
 * function reads `signal`, so work that never looks at it does not pay for one.
 */
export class Attempt implements WorkContext {
  private controller: AbortController | undefined = undefined;
  private abortReason: unknown = undefined;
  private boundProgress: ((value: number) => void) | undefined = undefined;
  /** True once the item has moved on (timed out, cancelled) while the function may still be running. */
  abandoned = false;
  /** Whether the signal aborted (or will, when first read), and when: for the warning about work that ignores it. */
  aborted = false;
  abortedAt = 0;
  /** `sampleClock()` at its start, for `stats().runMs`: -1 unless its item is sampled. */
  startedAt = -1;
  timeoutTimer: NodeJS.Timeout | undefined = undefined;
  /** Links in the queue's list of active attempts. */
  prev: Attempt | undefined = undefined;
  next: Attempt | undefined = undefined;
  lateTimer: NodeJS.Timeout | undefined = undefined;
  /** Its CONSUMER span while open, when the app has OpenTelemetry; cleared when ended, so it ends once. */
  span: AttemptSpan | undefined = undefined;

  constructor(
    readonly work: QueuedWork<any>,
    readonly attempt: number,
    private readonly sink: ProgressSink,
  ) {}

  get id(): string {
    return this.work.id;
  }

  get name(): string | undefined {
    return this.work.name;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** Bound on first read, so that `const { progress } = ctx` works too, without a closure per attempt up front. */
  get progress(): (value: number) => void {
    return (this.boundProgress ??= (value: number): void => {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new TypeError(`progress() takes a finite number, got ${describe(value)}`);
      }
      if (!this.abandoned) this.sink.reportProgress(this, value);
    });
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortedAt = Date.now();
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}
