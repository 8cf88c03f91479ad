import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { SAMPLE_CONFIG, type SampleConfig } from '../sample/sample.config.js';
import { SmtpSinkService } from '../sample/smtp-sink.service.js';
import { REDIS, deleteRedisKeys, tempFolder } from './support/stores.js';

// SAMPLE_STORE=bullmq: the sample's emails on BullMQ on the local Redis, under a prefix of this run.
const folder = tempFolder();
const prefix = `bwsample-${process.pid}-${Date.now().toString(36)}`;
process.env.SAMPLE_STORE = 'bullmq';
process.env.SAMPLE_REDIS_PREFIX = prefix;
process.env.SAMPLE_JOBS_DB = folder.file();

afterAll(async () => {
  if (REDIS) await deleteRedisKeys(prefix);
  folder.cleanup();
});

describe.skipIf(!REDIS)('sample app with SAMPLE_STORE=bullmq', () => {
  it('queues an email with 202 on BullMQ and delivers it to the SMTP sink', async () => {
    const { AppModule } = await import('../sample/app.module.js');
    const config: SampleConfig = { smtpPort: 0, emailDelayMs: 20, outboxPollMs: 50, ratesFile: folder.file('rates.json') };
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).overrideProvider(SAMPLE_CONFIG).useValue(config).compile();
    const app: INestApplication = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
    await app.listen(0, '127.0.0.1');
    try {
      const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
      const res = await fetch(`${base}/emails`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to: 'ada@example.com', subject: 'On BullMQ', body: 'Hi' }) });
      expect(res.status).toBe(202);
      const { id } = (await res.json()) as { id: string };
      const sink = app.get(SmtpSinkService);
      await vi.waitFor(() => expect(sink.received.map((m) => m.subject)).toContain('On BullMQ'), { timeout: 10_000, interval: 20 });
      await vi.waitFor(async () => expect(await (await fetch(`${base}/emails/${id}`)).json()).toMatchObject({ id, state: 'succeeded', attempts: 1 }), { timeout: 10_000, interval: 20 });
    } finally {
      await app.close();
    }
  });
});
