import { Controller, Get } from '@nestjs/common';
import { ExchangeRates, type RatesSnapshot } from './exchange-rates.js';

/** Reads the rates that the recurring job RefreshExchangeRates keeps fresh: a request never waits for a refresh. */
@Controller('rates')
export class RatesController {
  constructor(private readonly rates: ExchangeRates) {}

  @Get()
  current(): Promise<RatesSnapshot> {
    return this.rates.current();
  }
}
