import { afterEach, describe, expect, it } from 'vitest';
import { WorkerThreads } from 'nestjs-background-work';
import { UTILIZATION_WINDOW_MS } from '../../lib/threads/thread-utilization.js';
import { sleep, startApp, type TestApp } from '../support/create-app.js';

const SPIN = new URL('./tasks/spin.task.js', import.meta.url);

let current: TestApp | undefined;
afterEach(async () => {
  await current?.app.close();
  current = undefined;
});

describe('WorkerThreads.stats().utilization', () => {
  // Piscina 5.3's own figure read 0.001 here: it divides a mean already in ms by 1000 again.
  it('reads near 1 while the only thread is busy, counting a long task while it runs, and near 0 once idle', async () => {
    current = await startApp({ threads: { maxThreads: 1, minThreads: 1 } });
    const threads = current.app.get(WorkerThreads);
    expect(threads.stats().utilization).toBe(0);
    await threads.run(SPIN, { ms: 1 }); // boot the thread and load the task

    const busy = threads.run(SPIN, { ms: 1_500 });
    await sleep(1_000);
    const during = threads.stats().utilization;
    await busy;
    const after = threads.stats().utilization;

    // Two windows of nothing: the busy second has left the window.
    await sleep(UTILIZATION_WINDOW_MS + 100);
    threads.stats();
    await sleep(UTILIZATION_WINDOW_MS + 100);
    const idle = threads.stats().utilization;
    console.log(`utilization: ${during.toFixed(3)} during a 1.5 s task, ${after.toFixed(3)} right after it, ${idle.toFixed(3)} idle`);

    expect(during).toBeGreaterThan(0.5);
    expect(after).toBeGreaterThan(0.5);
    expect(idle).toBeLessThan(0.05);
    expect(threads.stats().threads).toBe(1);
  });

  it("is a share of maxThreads: one busy thread of four reads about a quarter, never more than 1", async () => {
    current = await startApp({ threads: { maxThreads: 4, minThreads: 0 } });
    const threads = current.app.get(WorkerThreads);
    await threads.run(SPIN, { ms: 1_200 });
    const one = threads.stats().utilization;
    await Promise.all([1, 2, 3, 4].map(() => threads.run(SPIN, { ms: 1_200 })));
    const all = threads.stats().utilization;
    console.log(`utilization: ${one.toFixed(3)} with 1 of 4 threads busy, ${all.toFixed(3)} after all 4`);
    expect(one).toBeGreaterThan(0.15);
    expect(one).toBeLessThan(0.4);
    expect(all).toBeGreaterThan(one);
    expect(all).toBeLessThanOrEqual(1);
  });
});
