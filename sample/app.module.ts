import { Module } from '@nestjs/common';
import { BackgroundWorkModule } from 'nestjs-background-work';
import { EmailService } from './email.service.js';
import { EmailsController } from './emails.controller.js';
import { ExchangeRatesService } from './exchange-rates.service.js';
import { MailerService } from './mailer.service.js';
import { Outbox } from './outbox.js';
import { OutboxPoller } from './outbox.poller.js';
import { RatesController } from './rates.controller.js';
import { sampleConfigProvider } from './sample.config.js';
import { SmtpSinkService } from './smtp-sink.service.js';
import { StatusController } from './status.controller.js';

@Module({
  imports: [
    BackgroundWorkModule.forRoot({
      queues: {
        // Two sends at a time; a failed send is tried twice more after 200 then 400 ms; one attempt may take 10 s.
        email: { concurrency: 2, retry: { attempts: 3, backoff: 'exponential', delay: 200 }, timeout: 10_000 },
      },
    }),
  ],
  controllers: [EmailsController, StatusController, RatesController],
  // Hosted services are ordinary providers: @HostedService() is what makes the library start and stop them.
  providers: [sampleConfigProvider, SmtpSinkService, MailerService, Outbox, EmailService, OutboxPoller, ExchangeRatesService],
})
export class AppModule {}
