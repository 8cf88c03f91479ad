/**
 * backlog-1m-drain (ns/item): the time to run `items` no-op items that are all pending at once (queued behind a
 * blocked first item at concurrency 1), from releasing the blocker to idle.
 */
import { collectGarbage, main, now, report, scenarioArgs } from '../measure.js';
import { createQueue, type QueueUnderTest } from '../queues.js';

interface Params {
  items: number;
  warmup: number;
}

const noop = async (): Promise<void> => {};

/** Builds a backlog of `items` behind a blocker, releases it, and returns the ms until the queue is idle. */
async function pass(queue: QueueUnderTest, items: number, beforeRelease?: () => Promise<void>): Promise<number> {
  let release!: () => void;
  let onStart!: () => void;
  const started = new Promise<void>((resolve) => (onStart = resolve));
  queue.submit(() => {
    onStart();
    return new Promise<void>((resolve) => (release = resolve));
  });
  await started;
  for (let i = 0; i < items; i++) queue.submit(noop);
  await beforeRelease?.();
  const began = now();
  release();
  await queue.idle();
  return now() - began;
}

main(async () => {
  const { lib, params } = scenarioArgs<Params>();
  const queue = await createQueue(lib, { concurrency: 1, capacity: params.items + 1 });
  await pass(queue, params.warmup);
  // Collect the warm-up's garbage and the enqueue loop's before the clock starts, so the drain pays only for its own.
  const ms = await pass(queue, params.items, collectGarbage);
  report((ms * 1e6) / params.items);
});
