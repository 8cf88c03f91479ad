import type { Provider } from '@nestjs/common';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

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
