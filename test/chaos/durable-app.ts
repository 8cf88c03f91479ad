// The app of the durable rounds: a compiled Nest HTTP app whose POST /jobs enqueues a durable job on a SQLite file
// and answers 202 only once it is committed. The driver (durable-round.ts) SIGKILLs it under load, starts it again
// on the same file, and at the end lets it finish everything and stops it with SIGTERM.
import { Body, Controller, Get, HttpCode, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { appendFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackgroundJobs, BackgroundWorkModule, Job, sqliteStore, type JobContext, type JobHandler } from 'nestjs-background-work';
import { DURABLE_ENV, DURABLE_FAILURE, DURABLE_JOB, DURABLE_QUEUE, type DurableSpec } from './durable-spec.js';
import { MARK } from './spec.js';

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`durable chaos app: ${name} is not set`);
  return value;
}

/** stdout to a pipe is synchronous on Linux: nothing printed is lost when the process exits. */
function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

const marksFile = env(DURABLE_ENV.marks);

/**
 * One line, in one O_APPEND write, before the handler goes on. A SIGKILL does not lose the page cache, so the line is
 * in the file for the driver whatever happens to the process next (no fsync: the machine does not crash here).
 */
function mark(line: string): void {
  appendFileSync(marksFile, `${line}\n`);
}

class DurableChaosFailure extends Error {
  override readonly name = DURABLE_FAILURE;
}

@Job(DURABLE_JOB, { queue: DURABLE_QUEUE })
class DurableChaosJob implements JobHandler<DurableSpec, number> {
  run(spec: DurableSpec, ctx: JobContext): number | Promise<number> {
    mark(`start ${spec.id} ${ctx.attempt} ${process.pid} ${ctx.id}`);
    if (spec.sync) return this.end(spec, ctx);
    return sleep(spec.ms, undefined, { signal: ctx.signal }).then(() => this.end(spec, ctx));
  }

  private end(spec: DurableSpec, ctx: JobContext): number {
    if (ctx.attempt <= spec.fails) {
      mark(`fail ${spec.id} ${ctx.attempt} ${process.pid}`);
      throw new DurableChaosFailure(`planned failure of job ${spec.id} on attempt ${ctx.attempt}`);
    }
    mark(`done ${spec.id} ${ctx.attempt} ${process.pid}`);
    return spec.id;
  }
}

@Controller()
class JobsController {
  constructor(private readonly jobs: BackgroundJobs) {}

  /** 202 with the job's id once the job is committed to the file. */
  @Post('jobs')
  @HttpCode(202)
  async enqueue(@Body() spec: DurableSpec): Promise<{ id: number; job: string }> {
    const retry = spec.attempts > 1 ? { attempts: spec.attempts, delay: spec.delay, backoff: 'fixed' as const } : 1;
    const record = await this.jobs.enqueue(DurableChaosJob, spec, spec.key === undefined ? { retry } : { retry, key: spec.key });
    return { id: spec.id, job: record.id };
  }

  @Get('stats')
  stats(): Promise<Record<string, number>> {
    return this.jobs.stats();
  }
}

@Module({
  imports: [
    BackgroundWorkModule.forRoot({
      shutdownTimeout: 10_000,
      queues: { [DURABLE_QUEUE]: { concurrency: Number(env(DURABLE_ENV.concurrency)) } },
      // A long job may be running at several kills in a row: the stall limit is not what the rounds test.
      store: sqliteStore({ path: env(DURABLE_ENV.db), maxStalls: 1_000 }),
    }),
  ],
  controllers: [JobsController],
  providers: [DurableChaosJob],
})
class AppModule {}

process.on('unhandledRejection', (reason) => {
  say(`${MARK.unhandled}: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
  process.exitCode = 70;
});

const app = await NestFactory.create(AppModule);
app.enableShutdownHooks();
await app.listen(0, '127.0.0.1');
say(`${MARK.ready} ${(app.getHttpServer().address() as AddressInfo).port}`);
