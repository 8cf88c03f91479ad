import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { BackgroundWorkDashboardModule, BackgroundWorkModule } from 'nestjs-background-work';
import { EmailService } from './email.service.js';
import { EmailsController } from './emails.controller.js';
import { ExchangeRates } from './exchange-rates.js';
import { HealthController } from './health.controller.js';
import { MailerService } from './mailer.service.js';
import { Outbox } from './outbox.js';
import { OutboxPoller } from './outbox.poller.js';
import { RatesController } from './rates.controller.js';
import { ReportsController } from './reports.controller.js';
import { ReportsService } from './reports.service.js';
import { RefreshExchangeRates } from './refresh-exchange-rates.job.js';
import { sampleConfigProvider, sampleStore, storeKeepsSchedules } from './sample.config.js';
import { SmtpSinkService } from './smtp-sink.service.js';
import { SendEmail } from './send-email.job.js';
import { StatusController } from './status.controller.js';
import { ThumbnailsController } from './thumbnails.controller.js';
import { ThumbnailsService } from './thumbnails.service.js';

@Module({
  imports: [
    BackgroundWorkModule.forRoot({
      // Emails are durable jobs kept in a SQLite file: queued ones survive Ctrl+C, a crash and kill -9. The rates
      // refresh is a recurring job kept there too, fired once per tick however many processes share the file.
      // SAMPLE_STORE=bullmq keeps them on BullMQ (local Redis) instead: start several copies and they share the work.
      store: sampleStore(),
      queues: {
        // Two sends at a time; a failed send is tried twice more after 200 then 400 ms; one attempt may take 10 s.
        // At most 10 sends (retries included) in any second: the kind of limit an email provider sets.
        email: { concurrency: 2, retry: { attempts: 3, backoff: 'exponential', delay: 200 }, timeout: 10_000, rateLimit: { max: 10, per: 1_000 } },
        // CPU work (thumbnails, PDF reports): as many at once as there are threads, at most 20 waiting (then 503),
        // and a job that runs past 60 s has its thread terminated.
        cpu: { concurrency: 2, capacity: 20, timeout: 60_000 },
      },
      // The worker-thread pool behind WorkerThreads: two threads, kept 30 s when idle, each with a bounded heap.
      threads: { maxThreads: 2, idleTimeout: 30_000, resourceLimits: { maxOldGenerationSizeMb: 512 } },
    }),
    // A live page at /background: read-only, and for requests from this machine only (give it a guard to open it).
    BackgroundWorkDashboardModule.forRoot(),
    TerminusModule.forRoot({ logger: false }),
  ],
  controllers: [EmailsController, StatusController, HealthController, RatesController, ThumbnailsController, ReportsController],
  // Hosted services are ordinary providers: @HostedService() is what makes the library start and stop them.
  providers: [
    sampleConfigProvider,
    SmtpSinkService,
    MailerService,
    Outbox,
    EmailService,
    SendEmail,
    OutboxPoller,
    ExchangeRates,
    // bullmqStore keeps no recurring schedules yet: on it the rates keep their starting values.
    ...(storeKeepsSchedules() ? [RefreshExchangeRates] : []),
    ThumbnailsService,
    ReportsService,
  ],
})
export class AppModule {}
