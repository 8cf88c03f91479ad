/**
 * Our side of the durable-* scenarios: the module on a store, the queue `bench`, and a no-op `@Job` whose runs the
 * scenario observes through `onRun`.
 */
import { Module, type INestApplicationContext, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  BackgroundJobs,
  BackgroundWorkModule,
  Job,
  memoryStore,
  sqliteStore,
  type JobContext,
  type JobHandler,
  type JobStore,
  type RetentionOptions,
} from 'nestjs-background-work';
import { JOB, QUEUE, type StoreName } from './durable.js';

export function ourStore(store: StoreName, path: string, retention?: RetentionOptions): JobStore {
  if (store === 'memory') return memoryStore(retention === undefined ? undefined : { retention });
  return sqliteStore({ path, driver: store, ...(retention === undefined ? {} : { retention }) });
}

/** What the no-op handler calls for each run, and returns: the scenario sets it (a promise that never settles keeps the job running). */
export const onRun: { run: (payload: { seq: number }, context: JobContext) => void | Promise<void> } = { run: () => {} };

@Job(JOB, { queue: QUEUE })
export class NoopJob implements JobHandler<{ seq: number }, void> {
  run(data: { seq: number }, context: JobContext): void | Promise<void> {
    return onRun.run(data, context);
  }
}

/**
 * Our application: the module on `store`, the queue `bench` with `concurrency`, and the no-op handler when
 * `handlers` lists it (without one, jobs enqueued by name stay pending: nothing in this process runs them).
 */
export async function ourJobsApp(
  store: JobStore,
  concurrency: number,
  handlers: Type[] = [NoopJob],
): Promise<{ app: INestApplicationContext; jobs: BackgroundJobs }> {
  @Module({ imports: [BackgroundWorkModule.forRoot({ threads: false, store, queues: { [QUEUE]: { concurrency } } })], providers: handlers })
  class DurableBenchModule {}
  const app = await NestFactory.createApplicationContext(DurableBenchModule, { logger: false });
  return { app, jobs: app.get(BackgroundJobs) };
}
