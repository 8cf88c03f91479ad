import { Controller, Get } from '@nestjs/common';
import { ExchangeRatesService, type RatesSnapshot } from './exchange-rates.service.js';

/** Reads the cache that ExchangeRatesService keeps warm: a request never waits for a refresh. */
@Controller('rates')
export class RatesController {
  constructor(private readonly rates: ExchangeRatesService) {}

  @Get()
  current(): RatesSnapshot {
    return this.rates.current;
  }
}
