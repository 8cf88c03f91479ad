import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { BackgroundHost } from 'nestjs-background-work';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SAMPLE_CONFIG, type SampleConfig } from '../sample/sample.config.js';
import { SmtpSinkService } from '../sample/smtp-sink.service.js';
import { tempFolder } from './support/stores.js';

// The sample keeps its emails in a SQLite file: a fresh one for this run, set before the module is loaded.
const folder = tempFolder();
process.env.SAMPLE_JOBS_DB = folder.file();
const { AppModule } = await import('../sample/app.module.js');

async function startSample(config: SampleConfig): Promise<{ app: INestApplication; base: string }> {
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
    .overrideProvider(SAMPLE_CONFIG)
    .useValue(config)
    .compile();
  const app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  return { app, base: `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}` };
}

// Short delays keep the test fast; the SMTP sink takes any free port.
const config: SampleConfig = { smtpPort: 0, emailDelayMs: 20, outboxPollMs: 50, ratesFile: folder.file('rates.json') };
const WAIT = { timeout: 10_000, interval: 20 };

describe('sample app', () => {
  let app: INestApplication;
  let base: string;
  let sink: SmtpSinkService;
  let closed = false;

  const post = (body: unknown): Promise<Response> =>
    fetch(`${base}/emails`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  beforeAll(async () => {
    ({ app, base } = await startSample(config));
    sink = app.get(SmtpSinkService);
  });

  afterAll(async () => {
    if (!closed) await app?.close();
    folder.cleanup();
  });

  it('queues an email with 202 and delivers it to the SMTP sink', async () => {
    const subject = 'Welcome ✓ to the sample';
    const res = await post({ to: 'ada@example.com', subject, body: 'Sent in the background' });
    expect(res.status).toBe(202);
    const { id, state } = (await res.json()) as { id: string; state: string };
    expect(state).toBe('pending');

    await vi.waitFor(() => expect(sink.received.map((m) => m.to)).toContainEqual(['ada@example.com']), WAIT);
    expect(sink.received.find((m) => m.to[0] === 'ada@example.com')?.subject).toBe(subject);

    await vi.waitFor(async () => {
      const item = (await (await fetch(`${base}/emails/${id}`)).json()) as { state: string; attempts: number };
      expect(item).toMatchObject({ id, state: 'succeeded', attempts: 1 });
    }, WAIT);
  });

  it('serves its dashboard, read-only, and answers its health check', async () => {
    const page = await fetch(`${base}/background`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<meta name="bw-read-only" content="true">');
    const overview = (await (await fetch(`${base}/background/api/overview`)).json()) as { queues: { name: string }[] };
    expect(overview.queues.map((q) => q.name)).toEqual(['default', 'email', 'cpu']);
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { info: { background: { status: string; queues: Record<string, unknown> } } };
    expect(body.info.background.status).toBe('up');
    expect(Object.keys(body.info.background.queues)).toEqual(['default', 'email', 'cpu']);
  });

  it('reports the queues and the hosted services on /status', async () => {
    const res = await fetch(`${base}/status`);
    expect(res.status).toBe(200);
    const status = (await res.json()) as {
      queues: Record<string, { succeeded: number; concurrency: number }>;
      jobs: Record<string, number>;
      services: { name: string; state: string }[];
      schedules: unknown[];
    };
    expect(status.queues.email).toMatchObject({ concurrency: 2 });
    expect(status.jobs.succeeded).toBeGreaterThanOrEqual(1);
    expect(status.queues.email.succeeded).toBeGreaterThanOrEqual(1);
    expect(status.queues.default).toMatchObject({ concurrency: 4 });
    expect(status.services).toEqual([
      { name: 'SmtpSinkService', order: -10, state: 'running' },
      { name: 'OutboxPoller', order: 0, state: 'running' },
    ]);
    expect(status.schedules).toEqual([
      expect.objectContaining({ id: 'refresh-exchange-rates', cron: '*/10 * * * * *', tz: 'UTC', overlap: 'skip', misfire: 'skip', source: 'decorator' }),
    ]);
  });

  it('serves exchange rates that a recurring job refreshes every 10 s', { timeout: 20_000 }, async () => {
    const first = (await (await fetch(`${base}/rates`)).json()) as { base: string; rates: Record<string, number>; updatedAt: string };
    expect(first.base).toBe('EUR');
    expect(Object.keys(first.rates)).toEqual(['USD', 'GBP', 'JPY', 'CHF']);
    // The next tick is at most 10 s away.
    await vi.waitFor(async () => {
      const now = (await (await fetch(`${base}/rates`)).json()) as { updatedAt: string };
      expect(now.updatedAt).not.toBe(first.updatedAt);
    }, { timeout: 15_000, interval: 200 });
    const runs = (await (await fetch(`${base}/status`)).json()) as { schedules: { lastJobId?: string }[] };
    expect(runs.schedules[0].lastJobId).toBeDefined();
  });

  it.each([
    ['a body that is not an object', null],
    ['missing fields', {}],
    ['a bad address', { to: 'not-an-address', subject: 's', body: 'b' }],
    ['a header injection', { to: 'a@b.co', subject: 'Hi\r\nBcc: x@y.z', body: 'b' }],
    ['an unknown field', { to: 'a@b.co', subject: 's', body: 'b', cc: 'c@d.co' }],
  ])('answers 400 to %s', async (_what, body) => {
    expect((await post(body)).status).toBe(400);
  });

  it('answers 404 to an unknown email', async () => {
    expect((await fetch(`${base}/emails/abc`)).status).toBe(404);
  });

  it('keeps emails still queued at close in the store, and sends them after a restart', async () => {
    const before = sink.received.length;
    const host = app.get(BackgroundHost);
    // Slow sends: two run at a time, so most are still queued when the app closes.
    const slow = { ...config, emailDelayMs: 300 };
    await app.close();
    ({ app, base } = await startSample(slow));
    const first = app.get(SmtpSinkService);
    for (const n of [1, 2, 3, 4, 5]) expect((await post({ to: `drain${n}@example.com`, subject: `Drain ${n}`, body: 'b' })).status).toBe(202);
    await app.close();
    expect(host.services().map((s) => s.state)).toEqual(['stopped', 'stopped']);
    const sentBefore = first.received.map((m) => m.subject);
    expect(sentBefore.length).toBeLessThan(5);

    ({ app, base } = await startSample(config));
    const second = app.get(SmtpSinkService);
    await vi.waitFor(() => expect(new Set([...sentBefore, ...second.received.map((m) => m.subject)]).size).toBe(5), WAIT);
    expect(before).toBeGreaterThan(0);
    closed = false;
  });
});
