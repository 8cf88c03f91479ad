/**
 * dispatch-c1, dispatch-c16, dispatch-c100 (ns/item): no-op async items through a queue at concurrency c, with at
 * most 1000 outstanding, so that the figure is the cost of dispatching an item rather than of holding a backlog
 * (backlog-1m-* measures that).
 */
import { Window, collectGarbage, main, now, report, scenarioArgs } from '../measure.js';
import { createQueue, type QueueUnderTest } from '../queues.js';

interface Params {
  items: number;
  warmup: number;
  concurrency: number;
  inFlight: number;
}

/** Runs `items` no-op items through `queue`; returns the elapsed ms, final drain included. */
async function pass(queue: QueueUnderTest, items: number, inFlight: number): Promise<number> {
  const window = new Window(inFlight);
  // One function for every item and every library: the item leaves the window when it runs.
  const work = async (): Promise<void> => window.release();
  const began = now();
  for (let i = 0; i < items; i++) {
    if (window.full) await window.room();
    window.outstanding++;
    queue.submit(work);
  }
  await queue.idle();
  return now() - began;
}

main(async () => {
  const { lib, params } = scenarioArgs<Params>();
  const queue = await createQueue(lib, { concurrency: params.concurrency, capacity: params.inFlight * 2 });
  // Warm-up: the JIT compiles the hot path of the queue and of this loop before the measured pass.
  await pass(queue, params.warmup, params.inFlight);
  await collectGarbage();
  const ms = await pass(queue, params.items, params.inFlight);
  report((ms * 1e6) / params.items);
});
