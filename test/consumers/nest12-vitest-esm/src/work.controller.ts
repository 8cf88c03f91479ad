import { Controller, HttpCode, Post } from '@nestjs/common';
import { BackgroundQueue, WorkerThreads } from 'nestjs-background-work';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HashInput } from './hash.task.js';

/** Built, the task is dist/hash.task.js; under Vitest only src/hash.task.ts exists and the library falls back to it. */
export const HASH_TASK = new URL('./hash.task.js', import.meta.url);

@Controller()
export class WorkController {
  constructor(
    private readonly queue: BackgroundQueue,
    private readonly threads: WorkerThreads,
  ) {}

  /** Enqueues one item that hashes on a worker thread, then lingers so that a SIGTERM finds it running. */
  @Post('work')
  @HttpCode(202)
  enqueue(): { id: string } {
    const item = this.queue.enqueue(async () => {
      const digest = await this.threads.run<HashInput, string>(HASH_TASK, { text: 'consumer', rounds: 1000 });
      await sleep(300);
      console.log(`WORK DONE ${digest.slice(0, 12)}`);
      return digest;
    });
    return { id: item.id };
  }
}
