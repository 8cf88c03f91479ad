import type * as Api from '@opentelemetry/api';
import { describeError } from '../log-text.js';
import type { AttemptOutcome, AttemptSpan, ObservedQueue, WorkTelemetry } from './work-telemetry.js';

/** `messaging.system`: the semantic conventions' list has no in-process queue, so the library names itself. */
export const MESSAGING_SYSTEM = 'nestjs-background-work';
const SCOPE = 'nestjs-background-work';

interface OtelAttemptSpan extends AttemptSpan {
  span: Api.Span;
  context: Api.Context;
}

/**
 * OpenTelemetry through its API alone (the application owns the SDK, exporters and sampling), after the messaging
 * semantic conventions: a PRODUCER span `send {queue}` per item or job, a CONSUMER span `process {queue}` per
 * attempt that links to it and is its child (one message at a time, so the producer's trace shows the work it
 * caused), and metrics: messages sent, process and wait durations, outcomes, and queue depth.
 */
export class OtelTelemetry implements WorkTelemetry {
  private readonly tracer: Api.Tracer | undefined;
  private readonly sentMessages: Api.Counter | undefined;
  private readonly processDuration: Api.Histogram | undefined;
  private readonly waitDuration: Api.Histogram | undefined;
  private readonly outcomes: Api.Counter | undefined;
  private readonly depth: Api.ObservableGauge | undefined;
  private readonly queues: ObservedQueue[] = [];

  constructor(
    private readonly api: typeof Api,
    tracing: boolean,
    metering: boolean,
  ) {
    this.tracer = tracing ? api.trace.getTracer(SCOPE) : undefined;
    if (!metering) return;
    const meter = api.metrics.getMeter(SCOPE);
    this.sentMessages = meter.createCounter('messaging.client.sent.messages', { description: 'Work items and jobs accepted by a queue', unit: '{message}' });
    this.processDuration = meter.createHistogram('messaging.process.duration', { description: 'Duration of one attempt of a work item or job', unit: 's' });
    this.waitDuration = meter.createHistogram('nestjs_background_work.wait.duration', { description: 'From ready (enqueued, delay or retry delay over, due) to started', unit: 's' });
    this.outcomes = meter.createCounter('nestjs_background_work.attempt.outcomes', { description: 'Attempts by how they ended', unit: '{attempt}' });
    this.depth = meter.createObservableGauge('nestjs_background_work.queue.depth', { description: 'Work items and jobs pending or running in a queue', unit: '{message}' });
    this.depth.addCallback((result) => {
      for (const queue of this.queues) {
        const { pending, running } = queue.counts();
        result.observe(pending, { 'messaging.destination.name': queue.name, 'nestjs_background_work.state': 'pending' });
        result.observe(running, { 'messaging.destination.name': queue.name, 'nestjs_background_work.state': 'running' });
      }
    });
  }

  observe(queue: ObservedQueue): void {
    this.queues.push(queue);
  }

  sent(queue: string, id: string, name: string | undefined): unknown {
    this.sentMessages?.add(1, destination(queue, 'send'));
    if (this.tracer === undefined) return undefined;
    const { api } = this;
    const span = this.tracer.startSpan(`send ${queue}`, { kind: api.SpanKind.PRODUCER, attributes: messageAttributes(queue, 'send', id, name) });
    span.end();
    return api.trace.setSpan(api.context.active(), span);
  }

  sendingJobs(jobs: ReadonlyArray<{ queue: string; id: string; name: string }>): { traces: (string | null)[]; end(error?: unknown): void } {
    for (const job of jobs) this.sentMessages?.add(1, destination(job.queue, 'send'));
    const tracer = this.tracer;
    if (tracer === undefined) return { traces: jobs.map(() => null), end: ignore };
    const { api } = this;
    const spans = jobs.map((job) => tracer.startSpan(`send ${job.queue}`, { kind: api.SpanKind.PRODUCER, attributes: messageAttributes(job.queue, 'send', job.id, job.name) }));
    return {
      traces: spans.map((span) => traceText(api, span.spanContext())),
      end: (error) => {
        for (const span of spans) {
          if (error !== undefined) failed(api, span, error);
          span.end();
        }
      },
    };
  }

  started(queue: string, id: string, name: string | undefined, attempt: number, trace: unknown, waitMs: number | undefined): AttemptSpan | undefined {
    if (waitMs !== undefined) this.waitDuration?.record(waitMs / 1000, destination(queue, 'process'));
    const startedAt = performance.now();
    if (this.tracer === undefined) return { queue, startedAt } as OtelAttemptSpan;
    const { api } = this;
    const parent = typeof trace === 'string' ? contextOfText(api, trace) : ((trace as Api.Context | undefined) ?? api.ROOT_CONTEXT);
    const producer = api.trace.getSpanContext(parent);
    const attributes = messageAttributes(queue, 'process', id, name);
    attributes['nestjs_background_work.attempt'] = attempt;
    const span = this.tracer.startSpan(
      `process ${queue}`,
      { kind: api.SpanKind.CONSUMER, attributes, links: producer === undefined ? [] : [{ context: producer }] },
      parent,
    );
    return { queue, startedAt, span, context: api.trace.setSpan(parent, span) } as OtelAttemptSpan;
  }

  within<T>(attempt: AttemptSpan, fn: () => T): T {
    const { context } = attempt as OtelAttemptSpan;
    return context === undefined ? fn() : this.api.context.with(context, fn);
  }

  ended(attempt: AttemptSpan, outcome: AttemptOutcome, error?: unknown): void {
    const seconds = (performance.now() - attempt.startedAt) / 1000;
    const attributes = destination(attempt.queue, 'process');
    if (outcome !== 'succeeded') attributes['error.type'] = errorType(outcome, error);
    this.processDuration?.record(seconds, attributes);
    this.outcomes?.add(1, { 'messaging.destination.name': attempt.queue, 'nestjs_background_work.outcome': outcome });
    const { span } = attempt as OtelAttemptSpan;
    if (span === undefined) return;
    span.setAttribute('nestjs_background_work.outcome', outcome);
    if (outcome === 'failed' || outcome === 'retrying' || outcome === 'timed out') failed(this.api, span, error);
    span.end();
  }
}

const ignore = (): void => {};

function destination(queue: string, operation: 'send' | 'process'): Api.Attributes {
  return { 'messaging.system': MESSAGING_SYSTEM, 'messaging.operation.name': operation, 'messaging.destination.name': queue };
}

function messageAttributes(queue: string, operation: 'send' | 'process', id: string, name: string | undefined): Api.Attributes {
  const attributes: Api.Attributes = {
    'messaging.system': MESSAGING_SYSTEM,
    'messaging.operation.name': operation,
    'messaging.operation.type': operation,
    'messaging.destination.name': queue,
    'messaging.message.id': id,
  };
  if (name !== undefined) attributes['nestjs_background_work.name'] = name;
  return attributes;
}

function failed(api: typeof Api, span: Api.Span, error: unknown): void {
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: api.SpanStatusCode.ERROR, message: error === undefined ? undefined : describeError(error) });
}

function errorType(outcome: AttemptOutcome, error: unknown): string {
  if (error instanceof Error) return error.name;
  return outcome === 'timed out' ? 'TimeoutError' : outcome === 'cancelled' ? 'CancelledError' : outcome === 'handed back' ? 'HandedBack' : '_OTHER';
}

/**
 * A job's stored trace: the W3C `traceparent` of its producer span, then its `tracestate` on a second line. Kept
 * in this form whatever propagator the app configured, so that a job enqueued by one process (or before a restart)
 * links to its producer in another.
 */
function traceText(api: typeof Api, spanContext: Api.SpanContext): string | null {
  if (!api.isSpanContextValid(spanContext)) return null;
  const flags = `0${(spanContext.traceFlags & 0xff).toString(16)}`.slice(-2);
  const parent = `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
  const state = spanContext.traceState?.serialize();
  return state ? `${parent}\n${state}` : parent;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

function contextOfText(api: typeof Api, text: string): Api.Context {
  const [parent, state] = text.split('\n');
  const match = TRACEPARENT.exec(parent);
  if (match === null) return api.ROOT_CONTEXT;
  const spanContext: Api.SpanContext = {
    traceId: match[1],
    spanId: match[2],
    traceFlags: Number.parseInt(match[3], 16),
    isRemote: true,
    traceState: state === undefined ? undefined : api.createTraceState(state),
  };
  return api.isSpanContextValid(spanContext) ? api.trace.setSpanContext(api.ROOT_CONTEXT, spanContext) : api.ROOT_CONTEXT;
}
