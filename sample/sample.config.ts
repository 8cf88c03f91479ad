import type { Provider } from '@nestjs/common';

/** The sample's settings. Everything has a default, so `npm start` needs no environment at all. */
export interface SampleConfig {
  /** Port of the embedded SMTP sink; 0 picks any free port. */
  smtpPort: number;
  /** Artificial delay before each email is sent, so that Ctrl+C catches some of them pending. */
  emailDelayMs: number;
  /** How often the outbox poller looks for events. */
  outboxPollMs: number;
  /** How often the exchange-rate cache is refreshed. */
  ratesRefreshMs: number;
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
    ratesRefreshMs: intFromEnv('SAMPLE_RATES_REFRESH_MS', 10_000),
  }),
};
