import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundJobs, Job, type JobHandler } from 'nestjs-background-work';
import { startApp, type TestApp } from '../support/create-app.js';
import { STORE_CASES, tempFolder } from '../support/stores.js';

const BACKLOG = 3_000;
let runs = 0;
let onFirstRun: (() => void) | undefined;

/** Finishes at once, as a cache hit or a validation failure would: nothing in it yields to the event loop. */
@Job('instant', { queue: 'instant' })
class Instant implements JobHandler<{ n: number }> {
  run(): void {
    runs++;
    onFirstRun?.();
    onFirstRun = undefined;
  }
}

let current: TestApp | undefined;
let folder: ReturnType<typeof tempFolder> | undefined;
let cleanup: ((folder: string) => Promise<void>) | undefined;

afterEach(async () => {
  await current?.app.close();
  if (folder !== undefined) await cleanup?.(folder.dir);
  folder?.cleanup();
  current = undefined;
  folder = undefined;
  runs = 0;
});

describe.each(STORE_CASES)('a backlog of jobs that finish at once, on $label', (store) => {
  it('lets timers, I/O and the commit of outcomes run between claims instead of draining the backlog in one turn', async () => {
    folder = tempFolder();
    cleanup = store.cleanup;
    current = await startApp({ store: store.make(folder.dir), queues: { instant: { concurrency: 50 } } }, [Instant]);
    const jobs = current.app.get(BackgroundJobs);
    let runsAtNextTurn: number | undefined;
    onFirstRun = () => setImmediate(() => (runsAtNextTurn = runs));
    // One commit: the whole backlog is there before the first claim, which takes 50 of it.
    await jobs.enqueueMany(Array.from({ length: BACKLOG }, (_, n) => ({ job: Instant, payload: { n } })));
    await jobs.onIdle();
    expect(runs).toBe(BACKLOG);
    // The turn after the first run came long before the last run: the feed yielded between claims.
    expect(runsAtNextTurn).toBeDefined();
    expect(runsAtNextTurn!).toBeLessThan(BACKLOG / 2);
    expect(await jobs.stats('instant')).toMatchObject({ succeeded: BACKLOG, pending: 0, running: 0 });
  });
});
