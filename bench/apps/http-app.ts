/**
 * The Nest HTTP application of the http-p99-* scenarios, run in its own process so that the load generator is
 * never blocked by the CPU work it measures. GET /health answers at once; POST /jobs queues one CPU job of
 * BENCH_JOB_MS on the BackgroundQueue and answers 202. BENCH_HTTP_MODE says where the job runs: `inline` on this
 * main thread, `threads` through WorkerThreads; `idle` is the same application, to which no jobs are sent.
 */
import { Controller, Get, HttpCode, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { BackgroundQueue, BackgroundWorkModule, WorkerThreads } from 'nestjs-background-work';
import burn from '../tasks/burn.task.js';

const MODE = process.env.BENCH_HTTP_MODE ?? 'idle';
const JOB_MS = Number(process.env.BENCH_JOB_MS ?? 50);
const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const BURN_TASK = new URL('../tasks/burn.task.js', import.meta.url);

@Controller()
class BenchController {
  constructor(
    private readonly queue: BackgroundQueue,
    private readonly threads: WorkerThreads,
  ) {}

  @Get('health')
  health(): string {
    return 'ok';
  }

  @Post('jobs')
  @HttpCode(202)
  job(): string {
    if (MODE === 'inline') this.queue.enqueue(() => burn(JOB_MS));
    else this.queue.enqueue(() => this.threads.run(BURN_TASK, JOB_MS));
    return 'accepted';
  }
}

@Module({
  // Queue concurrency = threads: a job leaves the queue only when a thread is free for it.
  imports: [BackgroundWorkModule.forRoot({ queue: { concurrency: THREADS }, threads: { minThreads: THREADS, maxThreads: THREADS } })],
  controllers: [BenchController],
})
class AppModule {}

const app = await NestFactory.create(AppModule, { logger: false });
await app.listen(0, '127.0.0.1');
const { port } = app.getHttpServer().address() as AddressInfo;
process.stdout.write(`LISTENING ${port}\n`);
