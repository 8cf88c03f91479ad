/**
 * durable-claim-complete (jobs/s): a backlog of `warmup + jobs` stored jobs run through a no-op `@Job` handler at
 * queue concurrency `concurrency`: each claimed (UPDATE...RETURNING sized to the free slots), run, and its success
 * committed. The backlog is written first by an application without the handler, which then closes; the
 * application with the handler starts on the same store, and the clock runs from the `warmup`-th run to the last
 * run with every outcome committed (`BackgroundJobs.onIdle()`), so that neither bootstrap nor a cold JIT counts.
 *
 * Anchors: `sqlite-raw/<driver>`, a loop over the same table with the same driver: claim `concurrency` rows with
 * the store's UPDATE...RETURNING, parse each payload, call a no-op, mark them succeeded in one UPDATE, until the
 * backlog is done.
 */
import {
  createSchema,
  driverMissing,
  openRaw,
  payload,
  rawIds,
  rawStatements,
  scratchFile,
  subjectOf,
  JOB,
  QUEUE,
  type SqliteDriverName,
  type StoreName,
} from '../durable.js';
import { main, now, report, scenarioArgs, skip } from '../measure.js';

interface Params {
  jobs: number;
  warmup: number;
  concurrency: number;
  /** Jobs per enqueue batch while writing the backlog (untimed). */
  batch: number;
}

/** Resolves with the ms from the `warmup`-th run to the end of the last. */
async function ours(store: StoreName, params: Params): Promise<number> {
  const { NoopJob, onRun, ourJobsApp, ourStore } = await import('../durable-app.js');
  const total = params.warmup + params.jobs;
  const jobStore = ourStore(store, scratchFile());
  // The backlog, through the public path: enqueues by name in batches of one turn each, in an app that has no
  // handler (so nothing runs yet; the queue is named, as the handler would have). Its close leaves the jobs pending in the store, memory included.
  const writer = await ourJobsApp(jobStore, params.concurrency, []);
  for (let seq = 0; seq < total; seq += params.batch) {
    const batch: Promise<unknown>[] = [];
    for (let i = seq; i < Math.min(seq + params.batch, total); i++) batch.push(writer.jobs.enqueue(JOB, payload(i), { queue: QUEUE }));
    await Promise.all(batch);
  }
  await writer.app.close();

  let runs = 0;
  let began = 0;
  let allRan!: () => void;
  const ran = new Promise<void>((resolve) => (allRan = resolve));
  onRun.run = () => {
    runs++;
    if (runs === params.warmup) began = now();
    if (runs === total) allRan();
  };
  const { jobs } = await ourJobsApp(jobStore, params.concurrency, [NoopJob]);
  await ran;
  await jobs.onIdle();
  const ms = now() - began;
  const stats = await jobs.stats();
  if (stats.succeeded !== total) throw new Error(`expected ${total} succeeded jobs, found ${JSON.stringify(stats)}`);
  return ms;
}

/** The bare loop's no-op handler. */
const handler = (data: { seq: number }): void => void data;

async function raw(driver: SqliteDriverName, params: Params): Promise<number> {
  const path = scratchFile();
  await createSchema(driver, path);
  const db = await openRaw(driver, path);
  const { insert, claim, complete } = rawStatements(db);
  const id = rawIds();
  const total = params.warmup + params.jobs;
  for (let seq = 0; seq < total; seq += params.batch) {
    db.transaction(() => {
      for (let i = seq; i < Math.min(seq + params.batch, total); i++) {
        const t = Date.now();
        insert.run([id(), JSON.stringify(payload(i)), t, t]);
      }
    });
  }
  const owner = 'bench-raw-owner';
  let runs = 0;
  let began = 0;
  for (;;) {
    const t = Date.now();
    const rows = claim.all([t, owner, t + 30_000, t, params.concurrency]);
    if (rows.length === 0) break;
    const ids: string[] = [];
    for (const row of rows) {
      handler(JSON.parse(row.payload as string));
      ids.push(row.id as string);
      if (++runs === params.warmup) began = now();
    }
    complete.run([Date.now(), JSON.stringify(ids), owner]);
  }
  const ms = now() - began;
  if (runs !== total) throw new Error(`expected ${total} runs, got ${runs}`);
  return ms;
}

main(async () => {
  const { lib, params } = scenarioArgs<Params>();
  const subject = subjectOf(lib);
  const driver = subject.kind === 'ours' ? subject.store : subject.driver;
  const missing = driver === 'memory' ? undefined : await driverMissing(driver);
  if (missing !== undefined) return skip(missing);
  const ms = subject.kind === 'ours' ? await ours(subject.store, params) : await raw(subject.driver, params);
  report((params.jobs * 1000) / ms, { usPerJob: (ms * 1000) / params.jobs });
});
