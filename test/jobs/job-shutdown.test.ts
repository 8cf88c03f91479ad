import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundJobs, Job, type JobContext, type JobHandler } from 'nestjs-background-work';
import { sleep, startApp } from '../support/create-app.js';
import { STORE_CASES, tempFolder, type StoreCase } from '../support/stores.js';

const runs: string[] = [];
let patient = true;

/** Waits for its signal when `patient`; otherwise finishes at once. */
@Job('long')
class Long implements JobHandler<{ id: string; ignoreSignal?: boolean }> {
  async run(payload: { id: string; ignoreSignal?: boolean }, ctx: JobContext): Promise<void> {
    runs.push(`${payload.id}@${ctx.attempt}`);
    if (!patient) return;
    if (payload.ignoreSignal) {
      await sleep(1_800);
      return;
    }
    await new Promise<void>((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
  }
}

let folder: ReturnType<typeof tempFolder> | undefined;
let cleanup: StoreCase['cleanup'];
afterEach(async () => {
  if (folder !== undefined) await cleanup?.(folder.dir);
  folder?.cleanup();
  folder = undefined;
  runs.length = 0;
  patient = true;
});

describe.each(STORE_CASES.filter((store) => store.durable))('Shutdown with $label', (store) => {
  it('hands unfinished jobs back at the deadline (no attempt charged), names them, and runs them at the next start', async () => {
    folder = tempFolder();
    cleanup = store.cleanup;
    const made = store.make(folder.dir);
    const first = await startApp({ store: made, shutdownTimeout: 300 }, [Long]);
    const jobs = first.app.get(BackgroundJobs);
    const honours = await jobs.enqueue(Long, { id: 'honours' });
    const ignores = await jobs.enqueue(Long, { id: 'ignores', ignoreSignal: true });
    for (let i = 0; i < 200 && runs.length < 2; i++) await sleep(10);
    expect(runs.toSorted()).toEqual(['honours@1', 'ignores@1']);
    await first.app.close();
    const warnings = first.logger.messages('warn').join('\n');
    expect(warnings).toContain('handed back to the store');
    expect(warnings).toContain(honours.id);
    expect(warnings).toContain(ignores.id);
    expect(first.logger.messages('log')[0]).toMatch(/^Stopping background work \(app\.close\(\)\); deadline 300 ms/);
    expect(first.logger.messages('log')).toContain(`2 jobs left in ${made.description} for the next start (2 pending, 0 scheduled)`);

    patient = false;
    runs.length = 0;
    const second = await startApp({ store: store.make(folder.dir) }, [Long]);
    const again = second.app.get(BackgroundJobs);
    await again.onIdle();
    expect(runs.toSorted()).toEqual(['honours@1', 'ignores@1']);
    expect(await again.get(honours.id)).toMatchObject({ state: 'succeeded', attempts: 1, stalls: 0 });
    expect(await again.get(ignores.id)).toMatchObject({ state: 'succeeded', attempts: 1 });
    await second.app.close();
  });

  it('accepts jobs during the drain into the durable store, for the next start', async () => {
    folder = tempFolder();
    cleanup = store.cleanup;
    const first = await startApp({ store: store.make(folder.dir), shutdownTimeout: 200 }, [Long]);
    const jobs = first.app.get(BackgroundJobs);
    await jobs.enqueue(Long, { id: 'a' });
    for (let i = 0; i < 200 && runs.length < 1; i++) await sleep(10);
    const closing = first.app.close();
    await sleep(50);
    const late = await jobs.enqueue(Long, { id: 'late' });
    await closing;
    await expect(jobs.enqueue(Long, { id: 'after' })).rejects.toThrow(/is closed/);
    patient = false;
    const second = await startApp({ store: store.make(folder.dir) }, [Long]);
    await second.app.get(BackgroundJobs).onIdle();
    expect(await second.app.get(BackgroundJobs).get(late.id)).toMatchObject({ state: 'succeeded' });
    await second.app.close();
  });
});
