import { count } from '../log-text.js';

/** Thrown by `enqueue` when `capacity` items are already waiting to start. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
  constructor(
    readonly queue: string,
    readonly capacity: number,
  ) {
    super(`Queue "${queue}" is full: ${count(capacity, 'item')} pending (raise its capacity or use enqueueAsync to wait for room)`);
  }
}

/** Thrown by `enqueue` and `enqueueAsync` once the application has begun to shut down. */
export class QueueClosedError extends Error {
  override readonly name = 'QueueClosedError';
  constructor(readonly queue: string) {
    super(`Queue "${queue}" is closed: the application is shutting down and accepts no new work`);
  }
}

/** The reason a work item's signal aborts when its attempt runs past `timeout`, and the item's error; also the start signal's when start-up outlives `startupTimeout`. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
  constructor(
    readonly timeout: number,
    message = `Work item timed out after ${timeout} ms`,
  ) {
    super(message);
  }
}

/** The error of a work item that was cancelled: by `cancel()`, by its `signal`, or at the shutdown deadline. */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
  constructor(message = 'Work item was cancelled', options?: { cause?: unknown }) {
    super(message, options);
  }
}
