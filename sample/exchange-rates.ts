import { Inject, Injectable } from '@nestjs/common';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { SAMPLE_CONFIG, type SampleConfig } from './sample.config.js';

export interface RatesSnapshot {
  base: 'EUR';
  rates: Record<string, number>;
  updatedAt: string;
}

const START: RatesSnapshot = { base: 'EUR', rates: { USD: 1.08, GBP: 0.85, JPY: 162.5, CHF: 0.95 }, updatedAt: new Date(0).toISOString() };

/**
 * Exchange rates kept in a file next to the jobs' SQLite file, where every process of the app (every replica that
 * shares the data folder) reads them: a real app would keep them in its database or in Redis. They are refreshed by
 * the recurring job RefreshExchangeRates, once for all processes. The "provider" is computed locally (a small random
 * walk) so that the sample needs no network.
 */
@Injectable()
export class ExchangeRates {
  constructor(@Inject(SAMPLE_CONFIG) private readonly config: SampleConfig) {}

  /** The last rates written, or the starting ones before the first refresh. A request never waits for a refresh. */
  async current(): Promise<RatesSnapshot> {
    try {
      return JSON.parse(await readFile(this.config.ratesFile, 'utf8')) as RatesSnapshot;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return START;
      throw error;
    }
  }

  /** Fetches new rates from the "provider" and replaces the file at once (a reader never sees half of it). */
  async refresh(signal: AbortSignal): Promise<RatesSnapshot> {
    const { rates } = await this.current();
    await sleep(50, undefined, { signal }); // stands in for the network round trip
    const next: RatesSnapshot = {
      base: 'EUR',
      rates: Object.fromEntries(Object.entries(rates).map(([code, rate]) => [code, +(rate * (1 + (Math.random() - 0.5) / 100)).toPrecision(6)])),
      updatedAt: new Date().toISOString(),
    };
    const partial = `${this.config.ratesFile}.${process.pid}.tmp`;
    await writeFile(partial, JSON.stringify(next), { signal });
    await rename(partial, this.config.ratesFile);
    return next;
  }
}
