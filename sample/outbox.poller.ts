import { Inject, Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackgroundQueue, BackgroundService, HostedService } from 'nestjs-background-work';
import { Outbox, type OutboxEvent } from './outbox.js';
import { SAMPLE_CONFIG, type SampleConfig } from './sample.config.js';

const BATCH = 50;

/**
 * A BackgroundService: `execute()` runs for the life of the app, off the bootstrap path. Every few seconds it takes
 * a batch of outbox events and hands each to the default queue to publish (a webhook, a message bus...).
 */
@HostedService()
export class OutboxPoller extends BackgroundService {
  private readonly logger = new Logger(OutboxPoller.name);

  constructor(
    private readonly outbox: Outbox,
    private readonly queue: BackgroundQueue,
    @Inject(SAMPLE_CONFIG) private readonly config: SampleConfig,
  ) {
    super();
  }

  protected async execute(signal: AbortSignal): Promise<void> {
    this.logger.log(`Polling the outbox every ${this.config.outboxPollMs} ms`);
    try {
      while (!signal.aborted) {
        const batch = this.outbox.take(BATCH);
        if (batch.length > 0) {
          this.logger.log(`Publishing ${batch.length} outbox events`);
          for (const event of batch) this.queue.enqueue(() => this.publish(event), { name: `publish:${event.type}` });
        }
        // Rejects with an AbortError when the app stops, which the library takes as a clean end of execute().
        await sleep(this.config.outboxPollMs, undefined, { signal });
      }
    } finally {
      // A persistent outbox would keep what is left for the next start; this in-memory one loses it.
      this.logger.log(`Outbox poller stopped with ${this.outbox.size} events unpublished`);
    }
  }

  private publish(event: OutboxEvent): void {
    this.logger.log(`Published ${event.type} ${JSON.stringify(event.payload)}`);
  }
}
