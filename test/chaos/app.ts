// The app under chaos: a compiled Nest HTTP app whose POST /work enqueues the item the body describes. The driver
// (run.ts) spawns it, loads it, sends SIGTERM and audits what it printed and the files its items wrote.
import {
  Body,
  Catch,
  Controller,
  HttpCode,
  Injectable,
  Module,
  Post,
  type ArgumentsHost,
  type ExceptionFilter,
  type OnModuleDestroy,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { appendFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BackgroundQueue,
  BackgroundWorkModule,
  QueueClosedError,
  QueueFullError,
  type WorkContext,
  type WorkFunction,
} from 'nestjs-background-work';
import { ENV, MARK, PLANNED_FAILURE, itemName, type ItemSpec } from './spec.js';

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`chaos app: ${name} is not set`);
  return value;
}

const resultsFile = env(ENV.results);
const startsFile = env(ENV.starts);

/** stdout to a pipe is synchronous on Linux: nothing printed is lost when the process exits. */
function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

class ChaosFailure extends Error {
  override readonly name = PLANNED_FAILURE;
}

function planned(spec: ItemSpec, attempt: number): unknown {
  const message = `planned failure of ${itemName(spec.id)} on attempt ${attempt}`;
  return spec.nonError ? `${PLANNED_FAILURE} (not an Error): ${message}` : new ChaosFailure(message);
}

function started(spec: ItemSpec, ctx: WorkContext): void {
  appendFileSync(startsFile, `${spec.id} ${ctx.attempt} ${ctx.id}\n`);
}

/** `done` when the queue counts the attempt as the item's success; `late` when it returned after its signal aborted. */
function finished(spec: ItemSpec, ctx: WorkContext): void {
  appendFileSync(resultsFile, `${spec.id} ${ctx.attempt} ${ctx.signal.aborted ? 'late' : 'done'}\n`);
}

const concurrency = Number(env(ENV.concurrency));
/** Work functions that have not returned yet, abandoned ones included: the queue must never run more than `concurrency`. */
let running = 0;
let peak = 0;

function enter(): void {
  running++;
  peak = Math.max(peak, running);
  if (running > concurrency) say(`CHAOS OVER CONCURRENCY ${running} > ${concurrency}`);
}

function work(spec: ItemSpec): WorkFunction<number> {
  if (spec.sync) {
    return (ctx) => {
      enter();
      try {
        started(spec, ctx);
        if (ctx.attempt <= spec.fails) throw planned(spec, ctx.attempt);
        finished(spec, ctx);
        return spec.id;
      } finally {
        running--;
      }
    };
  }
  return async (ctx) => {
    enter();
    try {
      started(spec, ctx);
      // An item that honours its signal stops sleeping when it aborts (and the queue ignores the AbortError).
      await sleep(spec.ms, undefined, spec.ignoreSignal ? undefined : { signal: ctx.signal });
      if (ctx.attempt <= spec.fails) throw planned(spec, ctx.attempt);
      finished(spec, ctx);
      return spec.id;
    } finally {
      running--;
    }
  };
}

@Controller()
class WorkController {
  constructor(private readonly queue: BackgroundQueue) {}

  /** 202 with the queue's id of the item; 503 (from the filter) when the queue is full or closed. */
  @Post('work')
  @HttpCode(202)
  enqueue(@Body() spec: ItemSpec): { id: number; item: string } {
    const item = this.queue.enqueue(work(spec), { name: itemName(spec.id), retry: spec.retry, timeout: spec.timeout });
    return { id: spec.id, item: item.id };
  }
}

interface JsonResponse {
  status(code: number): { json(body: unknown): void };
}

/** A refused item is a clear 503, never a 500. */
@Catch(QueueFullError, QueueClosedError)
class QueueRefusalFilter implements ExceptionFilter {
  catch(error: QueueFullError | QueueClosedError, host: ArgumentsHost): void {
    host.switchToHttp().getResponse<JsonResponse>().status(503).json({ statusCode: 503, error: error.name, message: error.message });
  }
}

/** Tells the driver when Nest has begun to close (the adapter already answers 503 then). */
@Injectable()
class ClosingMarker implements OnModuleDestroy {
  onModuleDestroy(): void {
    say(MARK.closing);
  }
}

@Module({
  imports: [
    BackgroundWorkModule.forRoot({
      shutdownTimeout: Number(env(ENV.shutdownTimeout)),
      queue: { concurrency, capacity: Number(env(ENV.capacity)) },
    }),
  ],
  controllers: [WorkController],
  providers: [ClosingMarker],
})
class AppModule {}

// The library promises that fire-and-forget work never causes one: make it loud, and make the exit code say so.
process.on('unhandledRejection', (reason) => {
  say(`${MARK.unhandled}: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
  process.exitCode = 70;
});
process.on('exit', () => say(`${MARK.peak} ${peak}`));

const app = await NestFactory.create(AppModule, { return503OnClosing: true });
app.useGlobalFilters(new QueueRefusalFilter());
app.enableShutdownHooks();
await app.listen(0, '127.0.0.1');
say(`${MARK.ready} ${(app.getHttpServer().address() as AddressInfo).port}`);
