/**
 * durable-memory-growth (bytes/job): whether the heap grows with the number of jobs that have passed through.
 * `jobs` jobs are enqueued (in batches of `batch` per turn, at most `window` not yet run) and run by the no-op
 * `@Job`; at every tenth of the way the process waits until all outcomes are written, sweeps the store (succeeded
 * retention 0, so that the sweep deletes every ended row) and reads the heap after GC. The figure is the growth
 * from the first sample (after the first tenth, so that buffers and JIT have their size) to the last, divided by
 * the jobs in between: near 0 when nothing leaks. The samples (MB) and the RSS growth (SQLite's page cache is
 * native memory, outside the heap) are in the detail, as is what the succeeded rows of one tenth held before the
 * sweep (`retainedBytesPerJob`: what the default 24 h retention costs memoryStore per job until it ends).
 *
 * Ours only, on memoryStore and sqliteStore per driver: the raw driver keeps nothing in the heap.
 */
import { Window, collectGarbage, heapUsed, main, report, scenarioArgs, skip } from '../measure.js';
import { driverMissing, payload, scratchFile, subjectOf } from '../durable.js';

interface Params {
  jobs: number;
  batch: number;
  window: number;
  concurrency: number;
}

const SAMPLES = 10;

/** Megabytes with two decimals. */
const mb = (bytes: number): number => Math.round(bytes / 1e4) / 100;

main(async () => {
  const { lib, params } = scenarioArgs<Params>();
  const subject = subjectOf(lib);
  if (subject.kind !== 'ours') throw new Error(`${lib}: this scenario measures our stores only`);
  if (subject.store !== 'memory') {
    const missing = await driverMissing(subject.store);
    if (missing !== undefined) return skip(missing);
  }
  const { NoopJob, onRun, ourJobsApp, ourStore } = await import('../durable-app.js');
  const store = ourStore(subject.store, scratchFile(), { succeeded: 0 });
  const window = new Window(params.window);
  onRun.run = window.release;
  const { jobs } = await ourJobsApp(store, params.concurrency, [NoopJob]);

  const heap: number[] = [];
  const rss: number[] = [];
  let retained = 0;
  const step = Math.ceil(params.jobs / SAMPLES);
  let seq = 0;
  for (let sample = 0; sample < SAMPLES; sample++) {
    const end = Math.min(params.jobs, seq + step);
    while (seq < end) {
      if (window.full) await window.room();
      const batch: Promise<unknown>[] = [];
      for (let i = 0; i < params.batch && seq < end; i++, seq++) {
        window.outstanding++;
        batch.push(jobs.enqueue(NoopJob, payload(seq)));
      }
      await Promise.all(batch);
    }
    await window.empty();
    await jobs.onIdle();
    await collectGarbage();
    const beforeSweep = heapUsed();
    await store.sweep(Date.now() + 1);
    await collectGarbage();
    heap.push(heapUsed());
    rss.push(process.memoryUsage().rss);
    if (sample === SAMPLES - 1) retained = (beforeSweep - heap[sample]) / step;
  }
  const stats = await jobs.stats();
  if (stats.pending + stats.running !== 0) throw new Error(`jobs left: ${JSON.stringify(stats)}`);
  const between = params.jobs - step;
  report((heap[SAMPLES - 1] - heap[0]) / between, {
    heapMB: heap.map(mb).join(' '),
    rssGrowthMB: mb(rss[SAMPLES - 1] - rss[0]),
    retainedBytesPerJob: Math.round(retained),
  });
});
