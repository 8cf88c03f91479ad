import { describe, expect, it } from 'vitest';
import {
  BackgroundHost,
  BackgroundQueue,
  CancelledError,
  HostedService,
  QueueClosedError,
  getQueueToken,
  type WorkContext,
} from 'nestjs-background-work';
import { sleep, startApp } from '../support/create-app.js';

function work(ms: number, finished: number[], id: number) {
  return async (ctx: WorkContext) => {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(ctx.signal.reason);
      });
    });
    finished.push(id);
  };
}

describe('drain at shutdown', () => {
  it('app.close() lets pending and running items finish, in every queue', async () => {
    const { app, logger } = await startApp({ queue: { concurrency: 2 }, queues: { email: { concurrency: 1 } } });
    const queue = app.get(BackgroundQueue);
    const email = app.get<BackgroundQueue>(getQueueToken('email'));
    const finished: number[] = [];
    for (let i = 0; i < 6; i++) queue.enqueue(work(20, finished, i));
    for (let i = 10; i < 13; i++) email.enqueue(work(20, finished, i));
    await sleep(5);
    expect(queue.stats()).toMatchObject({ running: 2, pending: 4 });
    await app.close();
    expect(finished.toSorted((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 10, 11, 12]);
    expect(queue.stats()).toMatchObject({ succeeded: 6, cancelled: 0 });
    expect(logger.messages('log')).toContain('Draining queue "default": 4 pending, 2 running');
    const summary = logger.messages('log').find((m) => m.startsWith('Background work stopped in'));
    expect(summary).toMatch(/work items: 9 succeeded, 0 failed, 0 cancelled \(0 at the shutdown deadline\)/);
  });

  it('at the deadline aborts running items, cancels pending ones, and names every one of them', async () => {
    const { app, logger } = await startApp({ shutdownTimeout: 100, queue: { concurrency: 2 } });
    const queue = app.get(BackgroundQueue);
    const finished: number[] = [];
    const quick = queue.enqueue(work(10, finished, 0), { name: 'quick' });
    const slow = [1, 2, 3, 4].map((i) => queue.enqueue(work(60_000, finished, i), { name: `slow-${i}` }));
    const stubborn = queue.enqueue(() => sleep(1_500), { name: 'stubborn' });
    await sleep(30);
    const began = Date.now();
    await app.close();
    expect(Date.now() - began).toBeLessThan(10_000);
    expect(quick.state).toBe('succeeded');
    for (const item of [...slow, stubborn]) {
      expect(item.state).toBe('cancelled');
      await expect(item.result).rejects.toBeInstanceOf(CancelledError);
    }
    const warnings = logger.messages('warn').join('\n');
    expect(warnings).toContain(
      `Queue "default": 2 running items cancelled at the shutdown deadline, their signals aborted: #${slow[0].id} "slow-1", #${slow[1].id} "slow-2"`,
    );
    expect(warnings).toContain(
      `Queue "default": 3 pending items cancelled at the shutdown deadline: #${slow[2].id} "slow-3", #${slow[3].id} "slow-4", #${stubborn.id} "stubborn"`,
    );
    expect(queue.stats()).toMatchObject({ succeeded: 1, cancelled: 5, pending: 0, running: 0 });
    const summary = logger.messages('log').find((m) => m.startsWith('Background work stopped in'));
    expect(summary).toMatch(/1 succeeded, 0 failed, 5 cancelled \(5 at the shutdown deadline\)/);
  });

  it('names running work that ignores its signal past the grace as abandoned', async () => {
    const { app, logger } = await startApp({ shutdownTimeout: 50 });
    const queue = app.get(BackgroundQueue);
    const deaf = queue.enqueue(() => sleep(3_000), { name: 'deaf' });
    await sleep(10);
    await app.close();
    expect(deaf.state).toBe('cancelled');
    expect(logger.messages('error')).toContain(`Queue "default": 1 item still running 1000 ms after the deadline, abandoned: #${deaf.id} "deaf"`);
  });

  it('refuses new work with QueueClosedError while draining and after, and rejects waiting enqueueAsync calls', async () => {
    let duringStop: unknown;
    @HostedService()
    class Producer implements HostedService {
      constructor(private readonly queue: BackgroundQueue) {}
      start() {}
      stop() {}
      stopped() {
        try {
          this.queue.enqueue(() => 1);
        } catch (error) {
          duringStop = error;
        }
      }
    }
    const { app } = await startApp({ queue: { concurrency: 1, capacity: 1 } }, [Producer]);
    const queue = app.get(BackgroundQueue);
    const finished: number[] = [];
    queue.enqueue(work(30, finished, 1));
    await sleep(1);
    queue.enqueue(work(1, finished, 2));
    const waiting = queue.enqueueAsync(() => 3);
    const closing = app.close();
    await expect(waiting).rejects.toBeInstanceOf(QueueClosedError);
    await sleep(5);
    expect(() => queue.enqueue(() => 4)).toThrow(QueueClosedError);
    expect(() => queue.enqueue(() => 4)).toThrow('Queue "default" is closed');
    await closing;
    expect(duringStop).toBeInstanceOf(QueueClosedError);
    expect(finished).toEqual([1, 2]);
    expect(() => queue.enqueue(() => 5)).toThrow(QueueClosedError);
    await expect(queue.enqueueAsync(() => 5)).rejects.toBeInstanceOf(QueueClosedError);
  });

  it('runs the whole stop once when app.close() is called twice at the same time', async () => {
    const { app, logger } = await startApp();
    const host = app.get(BackgroundHost);
    app.get(BackgroundQueue).enqueue(() => sleep(20));
    await Promise.all([app.close(), app.close()]);
    expect(logger.messages('log').filter((m) => m.startsWith('Background work stopped in'))).toHaveLength(1);
    expect(host.services()).toEqual([]);
  });
});
