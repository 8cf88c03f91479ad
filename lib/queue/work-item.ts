import type { RetryPolicy } from './queue.options.js';

export type WorkState = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** What a work function receives: one per attempt. */
export interface WorkContext {
  /** The item's id (a job's id for a job). */
  readonly id: string;
  readonly name?: string;
  /** 1 on the first attempt, 2 on the first retry, and so on. */
  readonly attempt: number;
  /** Aborts on timeout (with a `TimeoutError`), and with a `CancelledError` on `cancel()`, on the item's own `signal` and at the shutdown deadline. */
  readonly signal: AbortSignal;
  /** Reports progress (any finite number, such as a fraction or a percentage); emitted as a `progress` event. */
  progress(value: number): void;
}

export type WorkFunction<T> = (context: WorkContext) => T | PromiseLike<T>;

export interface EnqueueOptions {
  /** A label for logs and events. */
  name?: string;
  /** Milliseconds per attempt; overrides the queue's, and `Infinity` turns it off. */
  timeout?: number;
  /** Overrides the queue's retry policy; a number is `{ attempts: n }`, 1 turns retry off. */
  retry?: RetryPolicy | number;
  /** Cancels the item (pending or running) when it aborts. */
  signal?: AbortSignal;
  /** Higher starts first; FIFO within one priority. Default: the queue's `priority` (0). */
  priority?: number;
  /**
   * Items of one group run one at a time, in the order enqueued, while other groups go on (per-user or per-tenant
   * ordering). An item holds its group until it ends, retries included.
   */
  group?: string;
  /** Ms before the item may start; it is `pending` (and counts against `capacity`) until then. Default 0. */
  delay?: number;
}

/** The handle `enqueue` returns. */
export interface WorkItem<T = unknown> {
  readonly id: string;
  readonly name?: string;
  readonly state: WorkState;
  /** The attempt running now or last run; 0 while the item has not started. */
  readonly attempt: number;
  /** The last value given to `progress()`. */
  readonly progress: number | undefined;
  /** Settles when the item ends: its value, or the error of its last attempt. Safe to ignore: failures are logged. */
  readonly result: Promise<T>;
  /** Cancels a pending or running item: its signal aborts and `result` rejects with a `CancelledError` whose `cause` is `reason`. False when it had already ended. */
  cancel(reason?: unknown): boolean;
}
