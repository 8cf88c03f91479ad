/**
 * durable-e2e (ms, p50): enqueue to handler done, closed loop. `lanes` callers each enqueue one job (~250-byte
 * payload), wait until the no-op handler has run it, and enqueue the next, like HTTP clients that each wait for
 * their job's outcome; the queue runs at `concurrency`. The figure is the median latency from the enqueue call to
 * the handler's run over `jobs` after `warmup`; p99 and the throughput (jobs/s) are in the detail.
 *
 * Anchors: `sqlite-raw/<driver>`, the least a SQLite queue does for the same loop: each turn of the event loop
 * inserts the jobs submitted since the last one in one transaction, then claims up to `concurrency` with the
 * store's UPDATE...RETURNING, runs them and marks them succeeded in one UPDATE.
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
  type SqliteDriverName,
  type StoreName,
} from '../durable.js';
import { collectGarbage, main, now, percentile, report, scenarioArgs, skip } from '../measure.js';

interface Params {
  jobs: number;
  warmup: number;
  lanes: number;
  concurrency: number;
}

/** Hands the job `seq` to the system under test; it calls `ran(seq)` when the handler has run it. */
type Submit = (seq: number) => Promise<unknown>;

/** The caller's side, the same for every library: a promise per job, resolved by the handler's run. */
class Completions {
  private readonly waiting: ((() => void) | undefined)[] = [];

  wait(seq: number): Promise<void> {
    return new Promise((resolve) => (this.waiting[seq] = resolve));
  }

  readonly ran = (seq: number): void => {
    const resolve = this.waiting[seq];
    this.waiting[seq] = undefined;
    resolve?.();
  };
}

/** `count` jobs through `lanes` closed loops from job number `first`; returns elapsed ms and each job's latency. */
async function pass(submit: Submit, completions: Completions, first: number, count: number, lanes: number): Promise<{ ms: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = first;
  const end = first + count;
  const began = now();
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < end) {
        const seq = next++;
        const t = now();
        const done = completions.wait(seq);
        await submit(seq);
        await done;
        latencies.push(now() - t);
      }
    }),
  );
  return { ms: now() - began, latencies };
}

async function ours(store: StoreName, params: Params, completions: Completions): Promise<Submit> {
  const { NoopJob, onRun, ourJobsApp, ourStore } = await import('../durable-app.js');
  onRun.run = (data) => completions.ran(data.seq);
  const { jobs } = await ourJobsApp(ourStore(store, scratchFile()), params.concurrency, [NoopJob]);
  return (seq) => jobs.enqueue(NoopJob, payload(seq));
}

async function raw(driver: SqliteDriverName, params: Params, completions: Completions): Promise<Submit> {
  const path = scratchFile();
  await createSchema(driver, path);
  const db = await openRaw(driver, path);
  const { insert, claim, complete } = rawStatements(db);
  const id = rawIds();
  const owner = 'bench-raw-owner';
  let submitted: { seq: number; ack: () => void }[] = [];
  let scheduled = false;
  const turn = (): void => {
    scheduled = false;
    const batch = submitted;
    submitted = [];
    if (batch.length > 0) {
      db.transaction(() => {
        for (const job of batch) {
          const t = Date.now();
          insert.run([id(), JSON.stringify(payload(job.seq)), t, t]);
        }
      });
      for (const job of batch) job.ack();
    }
    for (;;) {
      const t = Date.now();
      const rows = claim.all([t, owner, t + 30_000, t, params.concurrency]);
      if (rows.length === 0) break;
      const ids: string[] = [];
      for (const row of rows) {
        completions.ran((JSON.parse(row.payload as string) as { seq: number }).seq);
        ids.push(row.id as string);
      }
      complete.run([Date.now(), JSON.stringify(ids), owner]);
      if (rows.length < params.concurrency) break;
    }
  };
  return (seq) =>
    new Promise<void>((ack) => {
      submitted.push({ seq, ack });
      if (!scheduled) {
        scheduled = true;
        setImmediate(turn);
      }
    });
}

main(async () => {
  const { lib, params } = scenarioArgs<Params>();
  const subject = subjectOf(lib);
  const completions = new Completions();
  const driver = subject.kind === 'ours' ? subject.store : subject.driver;
  const missing = driver === 'memory' ? undefined : await driverMissing(driver);
  if (missing !== undefined) return skip(missing);
  const submit = subject.kind === 'ours' ? await ours(subject.store, params, completions) : await raw(subject.driver, params, completions);
  await pass(submit, completions, 0, params.warmup, params.lanes);
  await collectGarbage();
  const { ms, latencies } = await pass(submit, completions, params.warmup, params.jobs, params.lanes);
  report(percentile(latencies, 0.5), { p99ms: percentile(latencies, 0.99), jobsPerS: (params.jobs * 1000) / ms });
});
