/**
 * durable-enqueue-single, durable-enqueue-grouped (jobs/s): durable enqueues of a ~250-byte JSON payload, each
 * acknowledged only once committed. `single`: one enqueue awaited at a time, so each is a commit of its own.
 * `grouped`: `batch` enqueues in one turn of the event loop, then awaited together: the store's group commit
 * makes them one transaction. Nothing runs the jobs (no handler in the process): they stay pending, as a backlog
 * does while the workers are busy.
 *
 * Anchors: `sqlite-raw/<driver>`, the same driver inserting the same rows into the same table (the library's own
 * schema) with a prepared INSERT, one autocommit statement per job or `batch` in one BEGIN IMMEDIATE...COMMIT.
 */
import {
  JOB,
  createSchema,
  driverMissing,
  openRaw,
  payload,
  rawIds,
  rawStatements,
  scratchFile,
  subjectOf,
  type SqliteDriverName,
  type StoreName,
} from '../durable.js';
import { collectGarbage, main, now, report, scenarioArgs, skip } from '../measure.js';

interface Params {
  mode: 'single' | 'grouped';
  jobs: number;
  warmup: number;
  batch: number;
}

/** Enqueues `count` jobs and returns the elapsed ms. */
type Pass = (count: number) => Promise<number>;

async function ours(store: StoreName, params: Params): Promise<Pass> {
  const { ourJobsApp, ourStore } = await import('../durable-app.js');
  const { jobs } = await ourJobsApp(ourStore(store, scratchFile()), 100, []);
  let seq = 0;
  if (params.mode === 'single') {
    return async (count) => {
      const began = now();
      for (let i = 0; i < count; i++) await jobs.enqueue(JOB, payload(seq++));
      return now() - began;
    };
  }
  return async (count) => {
    const began = now();
    for (let done = 0; done < count; done += params.batch) {
      const batch: Promise<unknown>[] = [];
      for (let i = 0; i < Math.min(params.batch, count - done); i++) batch.push(jobs.enqueue(JOB, payload(seq++)));
      await Promise.all(batch);
    }
    return now() - began;
  };
}

async function raw(driver: SqliteDriverName, params: Params): Promise<Pass> {
  const path = scratchFile();
  await createSchema(driver, path);
  const db = await openRaw(driver, path);
  const { insert } = rawStatements(db);
  const id = rawIds();
  let seq = 0;
  const one = (): void => {
    const t = Date.now();
    insert.run([id(), JSON.stringify(payload(seq++)), t, t]);
  };
  if (params.mode === 'single') {
    return async (count) => {
      const began = now();
      for (let i = 0; i < count; i++) one();
      return now() - began;
    };
  }
  return async (count) => {
    const began = now();
    for (let done = 0; done < count; done += params.batch) {
      db.transaction(() => {
        for (let i = 0; i < Math.min(params.batch, count - done); i++) one();
      });
    }
    return now() - began;
  };
}

main(async () => {
  const { lib, params } = scenarioArgs<Params>();
  const subject = subjectOf(lib);
  const driver = subject.kind === 'ours' ? subject.store : subject.driver;
  const missing = driver === 'memory' ? undefined : await driverMissing(driver);
  if (missing !== undefined) return skip(missing);
  const pass = subject.kind === 'ours' ? await ours(subject.store, params) : await raw(subject.driver, params);
  await pass(params.warmup);
  await collectGarbage();
  const ms = await pass(params.jobs);
  report((params.jobs * 1000) / ms, { usPerJob: (ms * 1000) / params.jobs });
});
