import { Injectable } from '@nestjs/common';
import { context, metrics, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type DataPoint, type Histogram } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BackgroundJobs, BackgroundQueue, getQueueToken, Job, sqliteStore, type JobHandler } from 'nestjs-background-work';
import { FixtureProcess } from '../process/fixture-process.js';
import { gate, startApp, type TestApp } from '../support/create-app.js';
import { tempFolder } from '../support/stores.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 3_600_000 });
const meterProvider = new MeterProvider({ readers: [reader] });
const tracer = trace.getTracer('test');

@Injectable()
@Job('traced')
class Traced implements JobHandler<{ report: number }, number> {
  run(payload: { report: number }): number {
    // A span the work makes itself: a child of its attempt's span.
    trace.getTracer('handler').startActiveSpan('render report', (span) => span.end());
    return payload.report;
  }
}

let current: TestApp | undefined;
let folder: ReturnType<typeof tempFolder> | undefined;

beforeAll(() => {
  // As an app does before it creates the Nest application: the SDK first.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  metrics.setGlobalMeterProvider(meterProvider);
});

afterAll(async () => {
  await meterProvider.shutdown();
  await provider.shutdown();
  trace.disable();
  metrics.disable();
  context.disable();
});

beforeEach(() => exporter.reset());

afterEach(async () => {
  await current?.app.close();
  current = undefined;
  folder?.cleanup();
  folder = undefined;
});

async function spans(): Promise<ReadableSpan[]> {
  await provider.forceFlush();
  return exporter.getFinishedSpans();
}

function named(all: ReadableSpan[], name: string): ReadableSpan[] {
  return all.filter((s) => s.name === name);
}

function only(all: ReadableSpan[], name: string): ReadableSpan {
  const found = named(all, name);
  expect(found, `one span "${name}" among ${all.map((s) => s.name).join(', ')}`).toHaveLength(1);
  return found[0];
}

/** Asserts that `consumer` is a child of `producer` and links to it, as the messaging conventions describe. */
function expectConsumerOf(consumer: ReadableSpan, producer: ReadableSpan): void {
  expect(consumer.kind).toBe(SpanKind.CONSUMER);
  expect(consumer.spanContext().traceId).toBe(producer.spanContext().traceId);
  expect(consumer.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
  expect(consumer.links.map((l) => l.context.spanId)).toEqual([producer.spanContext().spanId]);
}

describe('OpenTelemetry', () => {
  it('traces a closure: a PRODUCER span in the request at enqueue, a CONSUMER span per attempt as its child, the work’s spans under it', async () => {
    current = await startApp();
    const queue = current.app.get(BackgroundQueue);
    const item = tracer.startActiveSpan('GET /thumbnails', (request) => {
      try {
        return queue.enqueue(() => tracer.startActiveSpan('resize', (span) => span.end()), { name: 'thumbnail' });
      } finally {
        request.end();
      }
    });
    await item.result;
    const all = await spans();
    const request = only(all, 'GET /thumbnails');
    const send = only(all, 'send default');
    const process = only(all, 'process default');
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(send.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(send.attributes).toMatchObject({
      'messaging.system': 'nestjs-background-work',
      'messaging.operation.name': 'send',
      'messaging.destination.name': 'default',
      'messaging.message.id': item.id,
      'nestjs_background_work.name': 'thumbnail',
    });
    expectConsumerOf(process, send);
    expect(process.attributes).toMatchObject({ 'messaging.operation.name': 'process', 'nestjs_background_work.attempt': 1, 'nestjs_background_work.outcome': 'succeeded' });
    expect(only(all, 'resize').parentSpanContext?.spanId).toBe(process.spanContext().spanId);
  });

  it('ends one span per attempt with its outcome: retries, a timeout and a cancel are errors with their reason', async () => {
    current = await startApp({ queue: { concurrency: 4 } });
    const queue = current.app.get(BackgroundQueue);
    let calls = 0;
    const flaky = queue.enqueue(
      () => {
        if (++calls < 3) throw new Error(`boom ${calls}`);
        return 'ok';
      },
      { name: 'flaky', retry: { attempts: 3, delay: 1 } },
    );
    await flaky.result;
    const slow = queue.enqueue((ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))), { name: 'slow', timeout: 20 });
    await expect(slow.result).rejects.toThrow(/timed out/i);
    const held = gate();
    const doomed = queue.enqueue(() => held.promise, { name: 'doomed' });
    await new Promise((resolve) => setTimeout(resolve, 10));
    doomed.cancel('not needed');
    held.open();
    const all = await spans();
    const attempts = (id: string): ReadableSpan[] =>
      named(all, 'process default')
        .filter((s) => s.attributes['messaging.message.id'] === id)
        .toSorted((a, b) => Number(a.attributes['nestjs_background_work.attempt']) - Number(b.attributes['nestjs_background_work.attempt']));
    const flakySpans = attempts(flaky.id);
    expect(flakySpans.map((s) => s.attributes['nestjs_background_work.outcome'])).toEqual(['retrying', 'retrying', 'succeeded']);
    expect(flakySpans.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
    expect(flakySpans[0].status.message).toContain('boom 1');
    expect(flakySpans[0].events.map((e) => e.name)).toEqual(['exception']);
    // Every attempt is a child of the one send span.
    const send = named(all, 'send default').find((s) => s.attributes['messaging.message.id'] === flaky.id)!;
    for (const span of flakySpans) expectConsumerOf(span, send);
    const [timedOut] = attempts(slow.id);
    expect(timedOut.attributes['nestjs_background_work.outcome']).toBe('timed out');
    expect(timedOut.status.code).toBe(SpanStatusCode.ERROR);
    const [cancelled] = attempts(doomed.id);
    expect(cancelled.attributes['nestjs_background_work.outcome']).toBe('cancelled');
  });

  it('traces a durable job: its producer context is stored with it, and the job’s span is that span’s child on SQLite', async () => {
    folder = tempFolder();
    current = await startApp({ store: sqliteStore({ path: folder.file() }) }, [Traced]);
    const jobs = current.app.get(BackgroundJobs);
    const job = await tracer.startActiveSpan('POST /reports', async (request) => {
      try {
        return await jobs.enqueue(Traced, { report: 1 });
      } finally {
        request.end();
      }
    });
    await jobs.onIdle();
    const all = await spans();
    const send = only(all, 'send default');
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(send.parentSpanContext?.spanId).toBe(only(all, 'POST /reports').spanContext().spanId);
    expect(send.attributes).toMatchObject({ 'messaging.message.id': job.id, 'nestjs_background_work.name': 'traced' });
    const process = only(all, 'process default');
    expectConsumerOf(process, send);
    expect(only(all, 'render report').parentSpanContext?.spanId).toBe(process.spanContext().spanId);
  });

  it('links a job to the request that enqueued it in another process, through the store', async () => {
    folder = tempFolder();
    const producer = new FixtureProcess('traced-producer', { DB: folder.file() });
    const [, jobId] = await producer.waitFor(/^JOB (\S+)$/m);
    await producer.exited(20_000);
    const produced = JSON.parse(/^SPANS (.*)$/m.exec(producer.output)![1]) as { name: string; kind: number; traceId: string; spanId: string; parentSpanId?: string }[];
    const request = produced.find((s) => s.name === 'POST /reports')!;
    const send = produced.find((s) => s.name === 'send default')!;
    expect(send.parentSpanId).toBe(request.spanId);

    current = await startApp({ store: sqliteStore({ path: folder.file() }) }, [Traced]);
    const jobs = current.app.get(BackgroundJobs);
    await jobs.onIdle();
    expect((await jobs.get(jobId))?.state).toBe('succeeded');
    const process = only(await spans(), 'process default');
    expect(process.attributes['messaging.message.id']).toBe(jobId);
    expect(process.spanContext().traceId).toBe(request.traceId);
    expect(process.parentSpanContext?.spanId).toBe(send.spanId);
    expect(process.parentSpanContext?.isRemote).toBe(true);
    expect(process.links.map((l) => l.context.spanId)).toEqual([send.spanId]);
  });

  it('records metrics: messages sent, attempt durations and outcomes, wait durations, and queue depth', async () => {
    current = await startApp({ queues: { metered: { concurrency: 2 } } });
    const queue = current.app.get<BackgroundQueue>(getQueueToken('metered'));
    const held = gate();
    const items = [queue.enqueue(() => 1), queue.enqueue(() => Promise.reject(new Error('no'))), queue.enqueue(() => held.promise), queue.enqueue(() => 4)];
    await new Promise((resolve) => setTimeout(resolve, 20));
    const during = await collect();
    // One running (held), none pending: the depth gauge reads the queue at collection.
    expect(points(during, 'nestjs_background_work.queue.depth', 'metered').map((p) => [p.attributes['nestjs_background_work.state'], p.value])).toEqual([
      ['pending', 0],
      ['running', 1],
    ]);
    held.open();
    await Promise.allSettled(items.map((i) => i.result));
    const after = await collect();
    expect(points(after, 'messaging.client.sent.messages', 'metered').map((p) => p.value)).toEqual([4]);
    const durations = points(after, 'messaging.process.duration', 'metered');
    expect(durations.reduce((n, p) => n + (p.value as Histogram).count, 0)).toBe(4);
    expect(durations.find((p) => p.attributes['error.type'] === 'Error')).toBeDefined();
    const waits = points(after, 'nestjs_background_work.wait.duration', 'metered');
    expect((waits[0].value as Histogram).count).toBe(4);
    const outcomes = Object.fromEntries(points(after, 'nestjs_background_work.attempt.outcomes', 'metered').map((p) => [p.attributes['nestjs_background_work.outcome'], p.value]));
    expect(outcomes).toEqual({ succeeded: 3, failed: 1 });
  });

  it('records nothing with telemetry: false, even with a provider registered', async () => {
    current = await startApp({ telemetry: false });
    const queue = current.app.get(BackgroundQueue);
    await tracer.startActiveSpan('GET /quiet', async (span) => {
      await queue.enqueue(() => 1).result;
      span.end();
    });
    expect((await spans()).map((s) => s.name)).toEqual(['GET /quiet']);
  });
});

async function collect() {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return resourceMetrics.scopeMetrics.filter((s) => s.scope.name === 'nestjs-background-work').flatMap((s) => s.metrics);
}

function points(all: Awaited<ReturnType<typeof collect>>, name: string, queue: string): DataPoint<unknown>[] {
  const metric = all.find((m) => m.descriptor.name === name);
  expect(metric, `metric ${name}`).toBeDefined();
  return (metric!.dataPoints as DataPoint<unknown>[]).filter((p) => p.attributes['messaging.destination.name'] === queue);
}
