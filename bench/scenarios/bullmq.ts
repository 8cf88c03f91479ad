/**
 * bullmq-overhead (jobs/s): a backlog of no-op jobs run through `bullmqStore` (BullMQ's Worker delivering into the
 * queue's engine) against a raw BullMQ `Worker` with the same concurrency, on the same local Redis. The rate is
 * taken between the `warmup`-th and the last run, so that start-up is not in it.
 *
 * bullmq-enqueue (jobs/s): `BackgroundJobs.enqueue` of a ~250-byte payload, `batch` in flight at a time (one turn's
 * enqueues are one `addBulk`), against raw `Queue.add` with as many in flight.
 *
 * Libraries: `nestjs-background-work/bullmq` and `bullmq-raw/bullmq` (the runner takes the ratio between them).
 * Each process has a key prefix of its own and deletes its keys before it reports. No Redis: skipped.
 */
import { connect } from 'node:net';
import { JOB, QUEUE, payload } from '../durable.js';
import { main, now, report, scenarioArgs, skip } from '../measure.js';

interface Params {
  mode: 'overhead' | 'enqueue';
  jobs: number;
  warmup: number;
  concurrency: number;
  batch: number;
}

const CONNECTION = { host: '127.0.0.1', port: 6379 };

function redisAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(CONNECTION.port, CONNECTION.host);
    const done = (answer: boolean): void => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

async function deleteKeys(prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(CONNECTION);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

/** Resolves with the ms between run number `warmup` and run number `total` (counting from 1). */
function timer(warmup: number, total: number): { tick: () => void; done: Promise<number> } {
  let runs = 0;
  let began = 0;
  let finish!: (ms: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));
  return {
    tick: () => {
      runs++;
      if (runs === warmup) began = now();
      if (runs === total) finish(now() - began);
    },
    done,
  };
}

async function ours(params: Params, prefix: string): Promise<number> {
  const { bullmqStore } = await import('nestjs-background-work');
  const { ourJobsApp, onRun } = await import('../durable-app.js');
  const store = () => bullmqStore({ connection: CONNECTION, prefix });
  const total = params.jobs + params.warmup;
  if (params.mode === 'enqueue') {
    const { app, jobs } = await ourJobsApp(store(), params.concurrency, []);
    let seq = 0;
    const pass = async (count: number): Promise<number> => {
      const began = now();
      for (let done = 0; done < count; done += params.batch) {
        const batch: Promise<unknown>[] = [];
        for (let i = 0; i < Math.min(params.batch, count - done); i++) batch.push(jobs.enqueue(JOB, payload(seq++), { queue: QUEUE }));
        await Promise.all(batch);
      }
      return now() - began;
    };
    await pass(params.warmup);
    const ms = await pass(params.jobs);
    await app.close();
    return ms;
  }
  // The backlog first, from a process side with no handler; then the worker side starts and runs it.
  const producer = await ourJobsApp(store(), params.concurrency, []);
  for (let done = 0; done < total; done += 1_000) {
    await producer.jobs.enqueueMany(Array.from({ length: Math.min(1_000, total - done) }, (_, i) => ({ job: JOB, payload: payload(done + i), options: { queue: QUEUE } })));
  }
  await producer.app.close();
  const { tick, done } = timer(params.warmup, total);
  onRun.run = tick;
  const consumer = await ourJobsApp(store(), params.concurrency);
  const ms = await done;
  await consumer.app.close();
  return ms;
}

async function raw(params: Params, prefix: string): Promise<number> {
  const { Queue, Worker } = await import('bullmq');
  const queue = new Queue(QUEUE, { connection: CONNECTION, prefix });
  const total = params.jobs + params.warmup;
  if (params.mode === 'enqueue') {
    let seq = 0;
    const pass = async (count: number): Promise<number> => {
      const began = now();
      for (let done = 0; done < count; done += params.batch) {
        const batch: Promise<unknown>[] = [];
        for (let i = 0; i < Math.min(params.batch, count - done); i++) batch.push(queue.add(JOB, payload(seq++)));
        await Promise.all(batch);
      }
      return now() - began;
    };
    await pass(params.warmup);
    const ms = await pass(params.jobs);
    await queue.close();
    return ms;
  }
  for (let done = 0; done < total; done += 1_000) {
    await queue.addBulk(Array.from({ length: Math.min(1_000, total - done) }, (_, i) => ({ name: JOB, data: payload(done + i) })));
  }
  const { tick, done } = timer(params.warmup, total);
  const worker = new Worker(
    QUEUE,
    async () => {
      tick();
    },
    { connection: CONNECTION, prefix, concurrency: params.concurrency },
  );
  const ms = await done;
  await worker.close();
  await queue.close();
  return ms;
}

main(async () => {
  const { lib, params } = scenarioArgs<Params>();
  if (!(await redisAnswers())) {
    skip(`no Redis answers on ${CONNECTION.host}:${CONNECTION.port}`);
    return;
  }
  const prefix = `bwbench-${process.pid}`;
  const ms = lib.startsWith('bullmq-raw') ? await raw(params, prefix) : await ours(params, prefix);
  await deleteKeys(prefix);
  report((params.jobs / ms) * 1000, { jobs: params.jobs, concurrency: params.concurrency });
});
