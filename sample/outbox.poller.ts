import { Inject, Logger } from '@nestjs/common';
import { BackgroundQueue, HostedService, PeriodicService } from 'nestjs-background-work';
import { Outbox, type OutboxEvent } from './outbox.js';
import { SAMPLE_CONFIG, type SampleConfig } from './sample.config.js';

const BATCH = 50;

/**
 * A PeriodicService: `tick()` runs every few seconds for the life of the app, never two at once, off the bootstrap
 * path. Each tick takes a batch of outbox events and hands each to the default queue to publish (a webhook, a message
 * bus...). Unlike the rates refresh, this runs in every process: each one drains its own outbox.
 */
@HostedService()
export class OutboxPoller extends PeriodicService {
  private readonly logger = new Logger(OutboxPoller.name);

  constructor(
    private readonly outbox: Outbox,
    private readonly queue: BackgroundQueue,
    @Inject(SAMPLE_CONFIG) config: SampleConfig,
  ) {
    super({ every: config.outboxPollMs });
  }

  protected tick(): void {
    const batch = this.outbox.take(BATCH);
    if (batch.length === 0) return;
    this.logger.log(`Publishing ${batch.length} outbox events`);
    for (const event of batch) this.queue.enqueue(() => this.publish(event), { name: `publish:${event.type}` });
  }

  stopped(): void {
    // A persistent outbox would keep what is left for the next start; this in-memory one loses it.
    this.logger.log(`Outbox poller stopped with ${this.outbox.size} events unpublished`);
  }

  private publish(event: OutboxEvent): void {
    this.logger.log(`Published ${event.type} ${JSON.stringify(event.payload)}`);
  }
}
