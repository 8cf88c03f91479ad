import { Logger } from '@nestjs/common';
import { DEFAULT_QUEUE, LOG_CONTEXT } from '../background-work.constants.js';
import { BackgroundQueue, type DrainReport } from './background-queue.js';
import type { ResolvedQueueOptions } from './queue.options.js';
import type { WorkTelemetry } from '../telemetry/work-telemetry.js';

/** Every queue of the application, so that shutdown can close and drain them together. */
export class QueueRegistry {
  private readonly queues = new Map<string, BackgroundQueue>();

  constructor(
    defaultQueue: ResolvedQueueOptions,
    named: Record<string, ResolvedQueueOptions>,
    /** OpenTelemetry, when the app has it (see loadTelemetry): the queues and the jobs layer report to it. */
    readonly telemetry?: WorkTelemetry,
  ) {
    const logger = new Logger(LOG_CONTEXT);
    this.queues.set(DEFAULT_QUEUE, new BackgroundQueue(DEFAULT_QUEUE, defaultQueue, logger));
    for (const [name, options] of Object.entries(named)) this.queues.set(name, new BackgroundQueue(name, options, logger));
    if (telemetry === undefined) return;
    for (const queue of this.queues.values()) {
      queue.useTelemetry(telemetry);
      telemetry.observe(queue);
    }
  }

  /** The named queue, or the default one when `name` is undefined. */
  get(name: string | undefined): BackgroundQueue {
    const queue = this.queues.get(name ?? DEFAULT_QUEUE);
    if (queue === undefined) throw new RangeError(`No queue named "${name}"; configure it in BackgroundWorkModule's queues option`);
    return queue;
  }

  all(): BackgroundQueue[] {
    return [...this.queues.values()];
  }

  closeAll(): void {
    for (const queue of this.queues.values()) queue.close();
  }

  drainAll(deadline: AbortSignal, grace: number): Promise<DrainReport[]> {
    return Promise.all(this.all().map((queue) => queue.drain(deadline, grace)));
  }
}
