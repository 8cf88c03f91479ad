import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundJobs, BackgroundQueue, Job, getQueueToken, sqliteStore, type JobHandler } from 'nestjs-background-work';
import { gate, sleep, startApp, type TestApp } from '../support/create-app.js';
import { DRIVERS, tempFolder } from '../support/stores.js';

/** Jobs of the `limited` queue record when they start and wait for `release`. */
const starts: number[] = [];
let release = gate();

@Job('limited', { queue: 'limited' })
class Limited implements JobHandler<{ n: number }> {
  run(): Promise<void> {
    starts.push(performance.now()); // the limiter's clock
    return release.promise;
  }
}

let current: TestApp | undefined;
let folder: ReturnType<typeof tempFolder> | undefined;

afterEach(async () => {
  release.open();
  await current?.app.close();
  folder?.cleanup();
  current = undefined;
  folder = undefined;
  starts.length = 0;
  release = gate();
});

const enqueueMany = (jobs: BackgroundJobs, count: number) => jobs.enqueueMany(Array.from({ length: count }, (_, n) => ({ job: Limited, payload: { n } })));

const store = () => sqliteStore({ path: folder!.file(), driver: DRIVERS[0] });

describe.runIf(DRIVERS.length > 0)('queue features on durable jobs (sqliteStore)', () => {
  it('rateLimit: claims no more jobs than the limit lets start, and starts them at its pace', async () => {
    folder = tempFolder();
    current = await startApp({ store: store(), queues: { limited: { concurrency: 10, rateLimit: { max: 3, per: 300 } } } }, [Limited]);
    const jobs = current.app.get(BackgroundJobs);
    const queue = current.app.get<BackgroundQueue>(getQueueToken('limited'));
    queue.stats(); // sampling of waitMs and runMs starts
    release.open(); // jobs finish at once: only the limit holds them
    await enqueueMany(jobs, 4);
    await sleep(100);
    expect(starts).toHaveLength(3);
    // Not claimed ahead of the limit: the fourth is still pending in the store, not held in memory.
    expect(await jobs.stats('limited')).toMatchObject({ pending: 1, running: 0, succeeded: 3 });
    await enqueueMany(jobs, 8);
    await jobs.onIdle();
    expect(starts).toHaveLength(12);
    // Any 4 consecutive starts span at least one window (less what separates the limiter's look from the handler's).
    for (let i = 3; i < starts.length; i++) expect(starts[i]! - starts[i - 3]!).toBeGreaterThanOrEqual(299);
    // Jobs are sampled as closures are; their wait (from when they were due in the store) includes the limit's.
    const { waitMs, runMs } = queue.stats();
    expect(waitMs.max).toBeGreaterThanOrEqual(250);
    expect(waitMs.p50).toBeLessThanOrEqual(waitMs.p90);
    expect(runMs.max).toBeGreaterThanOrEqual(runMs.p50);
  });

  it('stats().waitMs of a job counts from when it was due in the store, even before this process started', async () => {
    folder = tempFolder();
    current = await startApp({ store: store(), queues: { limited: { concurrency: 4 } } }, [Limited]);
    const jobs = current.app.get(BackgroundJobs);
    const queue = current.app.get<BackgroundQueue>(getQueueToken('limited'));
    queue.stats();
    release.open();
    await jobs.enqueue(Limited, { n: 1 }, { runAt: new Date(Date.now() - 3_600_000) });
    await jobs.onIdle();
    expect(queue.stats().waitMs.max).toBeGreaterThanOrEqual(3_600_000);
  });

  it('pause: claims nothing while paused, runs the backlog on resume; a paused queue leaves its jobs in the store at shutdown', async () => {
    folder = tempFolder();
    current = await startApp({ store: store(), queues: { limited: { concurrency: 4 } } }, [Limited]);
    const jobs = current.app.get(BackgroundJobs);
    const queue = current.app.get<BackgroundQueue>(getQueueToken('limited'));
    queue.pause();
    await enqueueMany(jobs, 5);
    await sleep(150);
    expect(starts).toHaveLength(0);
    expect(await jobs.stats('limited')).toMatchObject({ pending: 5, running: 0 });
    expect(queue.stats()).toMatchObject({ pending: 0, running: 0 });

    release.open();
    queue.resume();
    await jobs.onIdle();
    expect(await jobs.stats('limited')).toMatchObject({ pending: 0, succeeded: 5 });

    queue.pause();
    await enqueueMany(jobs, 2);
    await current.app.close();
    current = undefined;
    expect(starts).toHaveLength(5);
    const again = await startApp({ store: store(), queues: { limited: { concurrency: 4 } } }, [Limited]);
    current = again;
    await again.app.get(BackgroundJobs).onIdle();
    expect(starts).toHaveLength(7); // they were kept and ran at the next start
  });
});
