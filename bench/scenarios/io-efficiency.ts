/**
 * io-1ms-efficiency (ratio, higher is better): `items` items that each await a 1 ms timer, at concurrency 100.
 * The ideal run takes items / concurrency × 1 ms; the figure is ideal time / actual time. Timers themselves fire
 * late (libuv rounds to the millisecond and runs them once per loop turn), so `floor` (100 plain async loops, no
 * queue) shows how close to 1.0 anything can get on this machine.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { collectGarbage, lanes, main, now, report, scenarioArgs } from '../measure.js';
import { createQueue } from '../queues.js';

interface Params {
  items: number;
  warmup: number;
  concurrency: number;
}

const DELAY_MS = 1;

const work = (): Promise<void> => sleep(DELAY_MS);

main(async () => {
  const { lib, params } = scenarioArgs<Params>();
  let run: (items: number) => Promise<number>;
  if (lib === 'floor') {
    run = (items) => lanes(items, params.concurrency, work);
  } else {
    const queue = await createQueue(lib, { concurrency: params.concurrency, capacity: params.items + 1 });
    run = async (items) => {
      const began = now();
      for (let i = 0; i < items; i++) queue.submit(work);
      await queue.idle();
      return now() - began;
    };
  }
  await run(params.warmup);
  await collectGarbage();
  const ms = await run(params.items);
  const ideal = (params.items / params.concurrency) * DELAY_MS;
  report(ideal / ms, { ms });
});
