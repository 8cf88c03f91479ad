import type { Provider } from '@nestjs/common';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { bullmqStore, sqliteStore, type JobStore } from 'nestjs-background-work';

/** The sample's settings. Everything has a default, so `npm start` needs no environment at all. */
export interface SampleConfig {
  /** Port of the embedded SMTP sink; 0 picks any free port. */
  smtpPort: number;
  /** Artificial delay before each email is sent, so that Ctrl+C catches some of them pending. */
  emailDelayMs: number;
  /** How often the outbox poller looks for events. */
  outboxPollMs: number;
  /** The file the exchange rates are kept in, shared by every process of the app (next to the jobs' file). */
  ratesFile: string;
}

/** The durable jobs' file: `sample/data/jobs.db` under the working directory unless SAMPLE_JOBS_DB says otherwise. */
export function jobsFile(): string {
  const path = resolve(process.env.SAMPLE_JOBS_DB || 'sample/data/jobs.db');
  mkdirSync(dirname(path), { recursive: true });
  return path;
}

/**
 * Where the durable jobs live: `SAMPLE_STORE=sqlite` (the default, a file) or `SAMPLE_STORE=bullmq` (BullMQ on the
 * Redis at `SAMPLE_REDIS_URL`, default redis://127.0.0.1:6379, under the prefix `SAMPLE_REDIS_PREFIX`, default
 * 'bw-sample': run several copies of the sample and they share the emails).
 */
export function sampleStore(): JobStore {
  const kind = process.env.SAMPLE_STORE || 'sqlite';
  if (kind === 'sqlite') return sqliteStore({ path: jobsFile() });
  if (kind === 'bullmq') {
    return bullmqStore({ connection: process.env.SAMPLE_REDIS_URL || 'redis://127.0.0.1:6379', prefix: process.env.SAMPLE_REDIS_PREFIX || 'bw-sample' });
  }
  throw new RangeError(`SAMPLE_STORE must be 'sqlite' or 'bullmq', got "${kind}"`);
}

/** bullmqStore keeps no recurring schedules yet: the rates refresh is a recurring job on SQLite only. */
export const storeKeepsSchedules = (): boolean => (process.env.SAMPLE_STORE || 'sqlite') !== 'bullmq';

/** Injection token of `SampleConfig`; tests replace it with `overrideProvider(SAMPLE_CONFIG)`. */
export const SAMPLE_CONFIG = Symbol('SAMPLE_CONFIG');

/** Reads a non-negative integer from the environment, failing fast on a typo instead of running with NaN. */
export function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

export const sampleConfigProvider: Provider = {
  provide: SAMPLE_CONFIG,
  // A factory, not a constant: the environment is read when the app is built, not when this file is imported.
  useFactory: (): SampleConfig => ({
    smtpPort: intFromEnv('SMTP_PORT', 0),
    emailDelayMs: intFromEnv('SAMPLE_EMAIL_DELAY_MS', 1_500),
    outboxPollMs: intFromEnv('SAMPLE_OUTBOX_POLL_MS', 5_000),
    ratesFile: resolve(dirname(jobsFile()), 'rates.json'),
  }),
};
