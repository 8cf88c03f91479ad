import { afterEach, describe, expect, it } from 'vitest';
import { WorkerThreads } from 'nestjs-background-work';
import { sleep, startApp, type TestApp } from '../support/create-app.js';

const SPIN = new URL('./tasks/spin.task.js', import.meta.url);

let current: TestApp | undefined;
afterEach(async () => {
  await current?.app.close();
  current = undefined;
});

describe('WorkerThreads at shutdown, tasks run directly (no queue item in flight)', () => {
  // Piscina's graceful close waits only for tasks already on a thread: the others were rejected with
  // "Terminating worker thread" at once and named nowhere.
  it.each([1, 5, 20])('finishes tasks still waiting for their thread to boot when close() comes %i ms later', async (delay) => {
    current = await startApp({ shutdownTimeout: 5_000, threads: { maxThreads: 1, minThreads: 0 } });
    const { app, logger } = current;
    const threads = app.get(WorkerThreads);
    const tasks = [1, 2, 3].map(() => threads.run<{ ms: number }, number>(SPIN, { ms: 50 }));
    const outcomes = Promise.allSettled(tasks);
    await sleep(delay);
    await app.close();
    current = undefined;
    const settled = await outcomes;
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(logger.messages('error').join('\n')).not.toContain('Worker threads:');
    expect(threads.stats().threads).toBe(0);
  });

  it('terminates a task still running at the deadline, names it, and leaves no thread behind', async () => {
    current = await startApp({ shutdownTimeout: 300, threads: { maxThreads: 1, minThreads: 0 } });
    const { app, logger } = current;
    const threads = app.get(WorkerThreads);
    const endless = threads.run(SPIN, {}, { name: 'forever' });
    const outcome = endless.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await sleep(100);
    const began = Date.now();
    await app.close();
    current = undefined;
    // Generous bound: the deadline is 300 ms; without the terminate the task would spin until the test times out.
    expect(Date.now() - began).toBeLessThan(10_000);
    expect(await outcome).toBeInstanceOf(Error);
    expect(logger.messages('error')).toContain('Worker threads: 1 task still in flight at the shutdown deadline were terminated: spin.task.ts#forever');
    expect(threads.stats().threads).toBe(0);
  });

  it('names, at the deadline, a task that was still waiting for a thread as well as the one running', async () => {
    current = await startApp({ shutdownTimeout: 300, threads: { maxThreads: 1, minThreads: 0 } });
    const { app, logger } = current;
    const threads = app.get(WorkerThreads);
    const running = threads.run(SPIN, {}, { name: 'forever' });
    const waiting = threads.run(SPIN, { ms: 10 });
    const outcomes = Promise.allSettled([running, waiting]);
    await sleep(20);
    await app.close();
    current = undefined;
    expect((await outcomes).map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(logger.messages('error')).toContain(
      'Worker threads: 2 tasks still in flight at the shutdown deadline were terminated: spin.task.ts#forever, spin.task.ts',
    );
  });
});
