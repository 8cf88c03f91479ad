import { Inject, Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { HostedService } from 'nestjs-background-work';
import { SAMPLE_CONFIG, type SampleConfig } from './sample.config.js';

export interface RatesSnapshot {
  base: 'EUR';
  rates: Record<string, number>;
  updatedAt: string;
}

const START: Record<string, number> = { USD: 1.08, GBP: 0.85, JPY: 162.5, CHF: 0.95 };

/**
 * Keeps an exchange-rate cache warm, refreshing it every `ratesRefreshMs`. Runs never overlap: the next one is
 * scheduled only when the previous one has finished (setInterval would pile runs up behind a slow source).
 * The "source" is computed locally (a small random walk) so that the sample needs no network.
 */
@HostedService()
export class ExchangeRatesService implements HostedService {
  private readonly logger = new Logger(ExchangeRatesService.name);
  private snapshot: RatesSnapshot = { base: 'EUR', rates: { ...START }, updatedAt: new Date().toISOString() };
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private stopRequested = false; // not `stopping`: that name is a lifecycle hook

  constructor(@Inject(SAMPLE_CONFIG) private readonly config: SampleConfig) {}

  get current(): RatesSnapshot {
    return this.snapshot;
  }

  /** Start must stay short (it delays `app.listen`): the cache is already usable, the first refresh is scheduled. */
  start(): void {
    this.schedule();
  }

  /** Clears the timer, then waits for a run in flight; if the shutdown deadline passes first, that run is aborted. */
  async stop(signal: AbortSignal): Promise<void> {
    this.stopRequested = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const onDeadline = (): void => this.abort.abort(signal.reason);
    signal.addEventListener('abort', onDeadline, { once: true });
    try {
      await this.inFlight;
    } finally {
      signal.removeEventListener('abort', onDeadline);
    }
    this.logger.log('Exchange-rate refresher stopped');
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.inFlight = this.refresh().finally(() => {
        this.inFlight = undefined;
        // stop() may have run during the refresh: then there is no next run.
        if (!this.stopRequested) this.schedule();
      });
    }, this.config.ratesRefreshMs);
  }

  private async refresh(): Promise<void> {
    try {
      await sleep(50, undefined, { signal: this.abort.signal }); // stands in for the network round trip
      const rates = Object.fromEntries(
        Object.entries(this.snapshot.rates).map(([code, rate]) => [code, +(rate * (1 + (Math.random() - 0.5) / 100)).toPrecision(6)]),
      );
      this.snapshot = { base: 'EUR', rates, updatedAt: new Date().toISOString() };
      this.logger.log(`Exchange rates refreshed: ${Object.entries(rates).map(([c, r]) => `${c} ${r}`).join(', ')}`);
    } catch (error) {
      // A failed refresh keeps the old rates: stale beats missing for a cache.
      this.logger.warn(`Exchange-rate refresh failed, keeping the previous rates: ${String(error)}`);
    }
  }
}
