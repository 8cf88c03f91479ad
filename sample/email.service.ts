import { Inject, Injectable, Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackgroundQueue, InjectQueue, type WorkContext, type WorkItem } from 'nestjs-background-work';
import { MailerService, type OutgoingMail } from './mailer.service.js';
import { Outbox } from './outbox.js';
import { SAMPLE_CONFIG, type SampleConfig } from './sample.config.js';

/** How many recent work items `GET /emails/:id` can still answer for; older ones are forgotten. */
const RECENT = 1_000;

/** Queues emails on the `email` queue and remembers the recent ones so that their state can be asked for. */
@Injectable()
export class EmailService {
  private readonly logger = new Logger(EmailService.name);
  private readonly recent = new Map<string, WorkItem<void>>();

  constructor(
    @InjectQueue('email') private readonly queue: BackgroundQueue,
    private readonly mailer: MailerService,
    private readonly outbox: Outbox,
    @Inject(SAMPLE_CONFIG) private readonly config: SampleConfig,
  ) {}

  /**
   * Returns at once with the queued item. Throws QueueFullError (capacity reached) or QueueClosedError (the app is
   * shutting down); the controller turns both into 503.
   */
  enqueue(mail: OutgoingMail): WorkItem<void> {
    const item = this.queue.enqueue((ctx) => this.deliver(mail, ctx), { name: `email:${mail.to}` });
    this.recent.set(item.id, item);
    // A Map iterates in insertion order: the first key is the oldest.
    if (this.recent.size > RECENT) this.recent.delete(this.recent.keys().next().value!);
    return item;
  }

  find(id: string): WorkItem<void> | undefined {
    return this.recent.get(id);
  }

  /** The work item: runs on the queue, retried by its policy, given `signal` for timeouts, cancel and the deadline. */
  private async deliver(mail: OutgoingMail, { id, attempt, signal }: WorkContext): Promise<void> {
    // Stands in for slow work (rendering a template, calling an API); it honours the signal like real work should.
    if (this.config.emailDelayMs > 0) await sleep(this.config.emailDelayMs, undefined, { signal });
    const info = await this.mailer.send(mail, signal);
    this.logger.log(`Sent email #${id} to ${mail.to} (attempt ${attempt}): ${info.response}`);
    this.outbox.add('email.sent', { id, to: mail.to, messageId: info.messageId });
  }
}
