import { Inject, Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { Job, type JobContext, type JobHandler } from 'nestjs-background-work';
import { MailerService, type OutgoingMail } from './mailer.service.js';
import { Outbox } from './outbox.js';
import { SAMPLE_CONFIG, type SampleConfig } from './sample.config.js';

/**
 * A durable job: the email is kept in the SQLite file until it is sent, so a crash or `kill -9` loses none.
 * It runs on the `email` queue (two at a time, three attempts, 10 s each). Delivery is at-least-once: a send that
 * finished just before a crash runs again after the restart, so a real mailer would pass an idempotency key
 * (here the job id) to its provider.
 */
@Job('send-email', { queue: 'email' })
export class SendEmail implements JobHandler<OutgoingMail> {
  private readonly logger = new Logger(SendEmail.name);

  constructor(
    private readonly mailer: MailerService,
    private readonly outbox: Outbox,
    @Inject(SAMPLE_CONFIG) private readonly config: SampleConfig,
  ) {}

  async run(mail: OutgoingMail, { id, attempt, signal }: JobContext): Promise<void> {
    // Stands in for slow work (rendering a template, calling an API); it honours the signal like real work should.
    if (this.config.emailDelayMs > 0) await sleep(this.config.emailDelayMs, undefined, { signal });
    const info = await this.mailer.send(mail, signal);
    this.logger.log(`Sent email ${id} to ${mail.to} (attempt ${attempt}): ${info.response}`);
    this.outbox.add('email.sent', { id, to: mail.to, messageId: info.messageId });
  }
}
