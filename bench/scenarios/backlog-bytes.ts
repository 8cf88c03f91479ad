/**
 * backlog-1m-bytes (bytes/item): the heap that `items` pending no-op items hold, at concurrency 1 behind a first
 * item that never finishes. What a queue costs when work arrives faster than it runs.
 */
import { collectGarbage, heapUsed, keepAlive, main, report, scenarioArgs } from '../measure.js';
import { createQueue } from '../queues.js';

interface Params {
  items: number;
}

// One function shared by every item, so that the figure is the queue's own bookkeeping, not the caller's closures.
const noop = async (): Promise<void> => {};

main(async () => {
  const { lib, params } = scenarioArgs<Params>();
  // No warm-up pass: a queue's buffers keep the size its largest backlog gave them, and that would hide in the
  // baseline what this scenario measures. Allocation sizes do not depend on the JIT anyway.
  const queue = await createQueue(lib, { concurrency: 1, capacity: params.items + 1 });
  keepAlive(queue);
  let onStart!: () => void;
  const started = new Promise<void>((resolve) => (onStart = resolve));
  queue.submit(() => {
    onStart();
    return new Promise<never>(() => {});
  });
  await started;
  // GC before each heap read: heapUsed counts dead objects until a collection, so without it the figure would be
  // whatever garbage happened to survive, not what the backlog keeps alive.
  await collectGarbage();
  const baseline = heapUsed();
  for (let i = 0; i < params.items; i++) queue.submit(noop);
  await collectGarbage();
  report((heapUsed() - baseline) / params.items);
});
