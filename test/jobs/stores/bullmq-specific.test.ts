import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundJobs, BackgroundQueue, Job, bullmqStore, getQueueToken, type JobContext, type JobHandler } from 'nestjs-background-work';
import { createApp, sleep, startApp, type TestApp } from '../../support/create-app.js';
import { Redis } from 'ioredis';
import { REDIS, REDIS_CONNECTION, bullmqTestStore, deleteRedisKeys, redisPrefix, tempFolder } from '../../support/stores.js';

let started: (() => void) | undefined;
@Job('wait-for-signal', { queue: 'work' })
class WaitForSignal implements JobHandler {
  async run(_payload: unknown, ctx: JobContext): Promise<void> {
    started?.();
    await new Promise<void>((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
  }
}

let busyMs = 0;
@Job('busy', { queue: 'work' })
class Busy implements JobHandler {
  run(): void {
    const end = performance.now() + busyMs;
    while (performance.now() < end); // CPU-bound: holds the event loop
  }
}

@Job('slow', { queue: 'work' })
class Slow implements JobHandler<{ n: number }, number> {
  async run({ n }: { n: number }): Promise<number> {
    started?.();
    await sleep(600);
    return n;
  }
}

const apps: TestApp[] = [];
let folder: ReturnType<typeof tempFolder> | undefined;
afterEach(async () => {
  for (const t of apps.splice(0)) await t.app.close();
  if (folder !== undefined) await deleteRedisKeys(redisPrefix(folder.dir));
  folder?.cleanup();
  folder = undefined;
});

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(!REDIS)('bullmqStore (Redis)', () => {
  it('fails bootstrap after a bounded wait, naming host and port, when Redis does not answer', async () => {
    const t = await createApp({ store: bullmqStore({ connection: { host: '127.0.0.1', port: 6390 }, connectTimeout: 500 }) }, []);
    const began = performance.now();
    const error = await t.app.init().then(() => undefined, (e: unknown) => e);
    expect(String(error)).toMatch(/bullmqStore: .*127\.0\.0\.1:6390/);
    expect(performance.now() - began).toBeLessThan(5_000);
    await t.app.close().catch(() => undefined);
  });

  it('follows pause(), resume() and setConcurrency() in what its worker fetches: jobs it cannot start stay in Redis', async () => {
    folder = tempFolder();
    const t = await startApp({ store: bullmqTestStore(folder.dir), queues: { work: { concurrency: 4 } } }, [Slow]);
    apps.push(t);
    const jobs = t.app.get(BackgroundJobs);
    const queue = t.app.get<BackgroundQueue>(getQueueToken('work'));
    queue.pause();
    const paused = await jobs.enqueueMany([1, 2].map((n) => ({ job: Slow, payload: { n } })));
    await sleep(400);
    // Not fetched: waiting in Redis (pending), free for another process, not locked and held here.
    expect(await jobs.stats('work')).toMatchObject({ pending: 2, running: 0 });
    queue.resume();
    await until(async () => (await jobs.stats('work')).succeeded === 2, 'both jobs after resume()');
    expect((await jobs.get(paused[0].id))?.state).toBe('succeeded');

    queue.setConcurrency(1);
    await jobs.enqueueMany([3, 4, 5].map((n) => ({ job: Slow, payload: { n } })));
    await until(async () => (await jobs.stats('work')).running === 1, 'the first of three');
    await sleep(200);
    // One fetched and running at a time; the other two still waiting in Redis.
    expect(await jobs.stats('work')).toMatchObject({ running: 1, pending: 2 });
  });

  it('relays cancel() of a job that another process runs to it: its signal aborts, no retry', async () => {
    folder = tempFolder();
    const runner = await startApp({ store: bullmqTestStore(folder.dir), queues: { work: {} }, shutdownTimeout: 300 }, [WaitForSignal]);
    apps.push(runner);
    // The second app has no handler: it only enqueues and cancels, as a web process would.
    const caller = await startApp({ store: bullmqTestStore(folder.dir), queues: { work: {} } }, []);
    apps.push(caller);
    const jobs = caller.app.get(BackgroundJobs);
    const running = new Promise<void>((resolve) => (started = resolve));
    const job = await jobs.enqueue('wait-for-signal', {}, { queue: 'work', retry: 3 });
    await running;
    expect(await jobs.cancel(job.id, 'not needed')).toBe(true);
    await until(async () => (await jobs.get(job.id))?.state === 'cancelled', 'the cancel to reach the runner');
    const record = (await jobs.get(job.id))!;
    expect(record).toMatchObject({ state: 'cancelled', attempts: 1 });
    expect(record.errors.at(-1)).toMatchObject({ name: 'CancelledError' });
    expect(await jobs.stats('work')).toMatchObject({ cancelled: 1, failed: 0, running: 0, pending: 0 });
    expect(await jobs.retry(job.id)).toBe(true);
    await until(async () => (await jobs.get(job.id))?.state === 'running', 'the retried job to run');
  });

  it('warns when a handler blocks the event loop longer than the lock renewal interval', async () => {
    folder = tempFolder();
    const t = await startApp({ store: bullmqTestStore(folder.dir, { lockDuration: 1_000 }), queues: { work: {} } }, [Busy]);
    apps.push(t);
    const jobs = t.app.get(BackgroundJobs);
    busyMs = 900;
    const job = await jobs.enqueue(Busy, {});
    await until(async () => (await jobs.get(job.id))?.state === 'succeeded', 'the busy job');
    await until(() => t.logger.messages('warn').some((l) => l.includes('event loop was blocked')), 'the warning');
    expect(t.logger.messages('warn').find((l) => l.includes('event loop was blocked'))).toMatch(/longer than BullMQ's lock renewal interval \(500 ms.*WorkerThreads/);
  });

  it('keeps running jobs in their place when the connections drop, reconnects, and loses nothing', async () => {
    folder = tempFolder();
    const prefix = redisPrefix(folder.dir);
    const t = await startApp({ store: bullmqTestStore(folder.dir), queues: { work: { concurrency: 2 } } }, [Slow]);
    apps.push(t);
    const jobs = t.app.get(BackgroundJobs);
    const running = new Promise<void>((resolve) => (started = resolve));
    const made = await jobs.enqueueMany(Array.from({ length: 6 }, (_, n) => ({ job: Slow, payload: { n } })));
    await running;
    // Every connection of this store (BullMQ names them after the prefix), dropped at once.
    const redis = new Redis(REDIS_CONNECTION);
    const clients = (await redis.client('LIST')) as string;
    const ids = [...clients.matchAll(/^id=(\d+) .* name=(\S*)/gm)].filter((m) => m[2].startsWith(prefix)).map((m) => m[1]);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) await redis.client('KILL', 'ID', id);
    redis.disconnect();
    await until(async () => (await jobs.stats('work').catch(() => ({ succeeded: 0 }))).succeeded === 6, 'every job to succeed');
    for (const job of made) expect(await jobs.get(job.id)).toMatchObject({ state: 'succeeded', attempts: 1 });
  });
});
