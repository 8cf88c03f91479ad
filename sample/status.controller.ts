import { Controller, Get } from '@nestjs/common';
import { BackgroundHost, BackgroundJobs, BackgroundQueue, InjectQueue, WorkerThreads } from 'nestjs-background-work';

/** What the background machinery is doing: queue counters, the worker-thread pool and every hosted service. */
@Controller('status')
export class StatusController {
  constructor(
    private readonly queue: BackgroundQueue, // the default queue is injected by its class
    @InjectQueue('email') private readonly emailQueue: BackgroundQueue,
    @InjectQueue('cpu') private readonly cpuQueue: BackgroundQueue,
    private readonly threads: WorkerThreads,
    private readonly host: BackgroundHost,
    private readonly jobs: BackgroundJobs,
  ) {}

  @Get()
  async status(): Promise<object> {
    return {
      queues: { default: this.queue.stats(), email: this.emailQueue.stats(), cpu: this.cpuQueue.stats() },
      // Durable jobs in the SQLite file, by state (the emails, the rates refreshes).
      jobs: await this.jobs.stats(),
      // Recurring schedules in the file, each with its next tick.
      schedules: await this.jobs.schedules(),
      // Threads, tasks queued and running, utilization, run and wait time percentiles (ms).
      threads: this.threads.stats(),
      // An Error serializes as {}: show a failed service's message instead.
      services: this.host.services().map((s) => (s.error === undefined ? s : { ...s, error: String(s.error) })),
    };
  }
}
