/**
 * What the dispatch engine and the jobs layer tell telemetry. Absent (undefined) unless `@opentelemetry/api` is
 * installed and the application registered a tracer or meter provider before it started, so that an app without
 * OpenTelemetry pays one `undefined` check per step and loads nothing.
 */
export interface WorkTelemetry {
  /**
   * A closure was accepted: its PRODUCER span `send {queue}` (a child of the caller's active span, ended at once).
   * Returns what the item carries to its attempts (a context object), or undefined when nothing was recorded.
   */
  sent(queue: string, id: string, name: string | undefined): unknown;
  /**
   * Jobs are about to be stored: a PRODUCER span each, started now in the caller's context. Returns the text to
   * store with each job (its trace context, W3C `traceparent`), and `end` to call once the commit is known.
   */
  sendingJobs(jobs: ReadonlyArray<{ queue: string; id: string; name: string }>): { traces: (string | null)[]; end(error?: unknown): void };
  /**
   * An attempt starts: its CONSUMER span `process {queue}`, linked to (and a child of) the producer's context
   * carried by the item (`trace`: a context object for a closure, stored text for a job).
   */
  started(queue: string, id: string, name: string | undefined, attempt: number, trace: unknown, waitMs: number | undefined): AttemptSpan | undefined;
  /** Runs the attempt's function inside its span's context, so that the spans the work makes are its children. */
  within<T>(span: AttemptSpan, fn: () => T): T;
  /** The attempt ended (the function may still be running, abandoned: the span ends with the attempt). */
  ended(span: AttemptSpan, outcome: AttemptOutcome, error?: unknown): void;
  /** Depth gauges read a queue's stats at each collection. */
  observe(queue: ObservedQueue): void;
}

export type AttemptOutcome = 'succeeded' | 'failed' | 'retrying' | 'cancelled' | 'timed out' | 'handed back';

/** An attempt's span and when it began, opaque to the engine. */
export interface AttemptSpan {
  readonly queue: string;
  readonly startedAt: number;
}

export interface ObservedQueue {
  readonly name: string;
  counts(): { pending: number; running: number };
}
