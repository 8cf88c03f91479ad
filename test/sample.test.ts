import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { BackgroundHost } from 'nestjs-background-work';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AppModule } from '../sample/app.module.js';
import { SAMPLE_CONFIG, type SampleConfig } from '../sample/sample.config.js';
import { SmtpSinkService } from '../sample/smtp-sink.service.js';

// Short delays keep the test fast; the SMTP sink takes any free port.
const config: SampleConfig = { smtpPort: 0, emailDelayMs: 20, outboxPollMs: 50, ratesRefreshMs: 100 };
const WAIT = { timeout: 10_000, interval: 20 };

describe('sample app', () => {
  let app: INestApplication;
  let base: string;
  let sink: SmtpSinkService;
  let closed = false;

  const post = (body: unknown): Promise<Response> =>
    fetch(`${base}/emails`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
      .overrideProvider(SAMPLE_CONFIG)
      .useValue(config)
      .compile();
    app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    sink = app.get(SmtpSinkService);
  });

  afterAll(async () => {
    if (!closed) await app?.close();
  });

  it('queues an email with 202 and delivers it to the SMTP sink', async () => {
    const subject = 'Welcome ✓ to the sample';
    const res = await post({ to: 'ada@example.com', subject, body: 'Sent in the background' });
    expect(res.status).toBe(202);
    const { id, state } = (await res.json()) as { id: number; state: string };
    expect(state).toBe('pending');

    await vi.waitFor(() => expect(sink.received.map((m) => m.to)).toContainEqual(['ada@example.com']), WAIT);
    expect(sink.received.find((m) => m.to[0] === 'ada@example.com')?.subject).toBe(subject);

    await vi.waitFor(async () => {
      const item = (await (await fetch(`${base}/emails/${id}`)).json()) as { state: string; name: string };
      expect(item).toMatchObject({ state: 'succeeded', name: 'email:ada@example.com' });
    }, WAIT);
  });

  it('reports the queues and the hosted services on /status', async () => {
    const res = await fetch(`${base}/status`);
    expect(res.status).toBe(200);
    const status = (await res.json()) as {
      queues: Record<string, { succeeded: number; concurrency: number }>;
      services: { name: string; state: string }[];
    };
    expect(status.queues.email).toMatchObject({ concurrency: 2 });
    expect(status.queues.email.succeeded).toBeGreaterThanOrEqual(1);
    expect(status.queues.default).toMatchObject({ concurrency: 4 });
    expect(status.services).toEqual([
      { name: 'SmtpSinkService', order: -10, state: 'running' },
      { name: 'OutboxPoller', order: 0, state: 'running' },
      { name: 'ExchangeRatesService', order: 0, state: 'running' },
    ]);
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

  it('answers 400 to a malformed id and 404 to an unknown email', async () => {
    expect((await fetch(`${base}/emails/abc`)).status).toBe(400);
    expect((await fetch(`${base}/emails/999999`)).status).toBe(404);
  });

  it('drains queued emails on close before the SMTP sink stops', async () => {
    const before = sink.received.length;
    const host = app.get(BackgroundHost);
    for (const n of [1, 2, 3]) expect((await post({ to: `drain${n}@example.com`, subject: `Drain ${n}`, body: 'b' })).status).toBe(202);

    closed = true;
    await app.close();
    expect(sink.received.slice(before).map((m) => m.subject).toSorted()).toEqual(['Drain 1', 'Drain 2', 'Drain 3']);
    expect(host.services().map((s) => s.state)).toEqual(['stopped', 'stopped', 'stopped']);
  });
});
