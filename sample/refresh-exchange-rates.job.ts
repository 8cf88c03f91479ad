import { Logger } from '@nestjs/common';
import { Job, Recurring, type JobContext, type JobHandler } from 'nestjs-background-work';
import { ExchangeRates } from './exchange-rates.js';

/**
 * A recurring durable job: every 10 seconds one job is stored and run, once for the whole app however many processes
 * share its SQLite file (where `@nestjs/schedule` would run it in every replica). A tick is skipped while the last
 * refresh still runs (`overlap: 'skip'`), and ticks missed while the app was down are not caught up
 * (`misfire: 'skip'`): stale rates are worth nothing, the next tick brings fresh ones.
 */
@Recurring('*/10 * * * * *', { overlap: 'skip', misfire: 'skip' })
@Job('refresh-exchange-rates', { timeout: 5_000 })
export class RefreshExchangeRates implements JobHandler {
  private readonly logger = new Logger(RefreshExchangeRates.name);

  constructor(private readonly rates: ExchangeRates) {}

  async run(_payload: unknown, { signal }: JobContext): Promise<void> {
    const { rates } = await this.rates.refresh(signal);
    this.logger.log(`Exchange rates refreshed: ${Object.entries(rates).map(([code, rate]) => `${code} ${rate}`).join(', ')}`);
  }
}
