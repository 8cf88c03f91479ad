/**
 * drain-overhead (ratio, lower is better): `items` items of a 5 ms timer at concurrency 100 are queued, then
 * app.close() is called at once: the time until close() returns (every item run, the module stopped) divided by
 * the ideal items / concurrency × 5 ms. `floor` runs the same timers in 100 plain async loops, without Nest or a
 * queue: what the timers alone cost on this machine.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BackgroundQueue } from 'nestjs-background-work';
import { collectGarbage, lanes, main, now, report, scenarioArgs } from '../measure.js';
import { ourApp } from '../nest.js';
import { OURS } from '../queues.js';

interface Params {
  items: number;
  warmup: number;
  concurrency: number;
}

const DELAY_MS = 5;
const work = (): Promise<void> => sleep(DELAY_MS);

main(async () => {
  const { lib, params } = scenarioArgs<Params>();
  let ms: number;
  if (lib === 'floor') {
    await lanes(params.warmup, params.concurrency, work);
    await collectGarbage();
    ms = await lanes(params.items, params.concurrency, work);
  } else if (lib === OURS) {
    // A generous deadline: the scenario measures a drain that completes, not one that is cut off.
    const app = await ourApp({ queue: { concurrency: params.concurrency, capacity: params.items + 1 }, shutdownTimeout: 600_000 });
    const queue = app.get(BackgroundQueue);
    for (let i = 0; i < params.warmup; i++) queue.enqueue(work);
    await queue.onIdle();
    await collectGarbage();
    const began = now();
    for (let i = 0; i < params.items; i++) queue.enqueue(work);
    await app.close();
    ms = now() - began;
  } else {
    throw new Error(`unknown library ${lib}`);
  }
  report(ms / ((params.items / params.concurrency) * DELAY_MS), { ms });
});
