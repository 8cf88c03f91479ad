/**
 * threads-saturated (tasks/s, higher is better): tiny tasks with many in flight, so that every thread always has
 * the next one waiting: the pool's throughput when the work itself costs nothing.
 */
import { collectGarbage, main, report, scenarioArgs } from '../measure.js';
import { createPool, saturate } from '../pools.js';

interface Params {
  tasks: number;
  warmup: number;
  threads: number;
  inFlight: number;
}

const TASK = new URL('../tasks/echo.task.js', import.meta.url);

main(async () => {
  const { lib, params } = scenarioArgs<Params>();
  const pool = await createPool(lib, TASK, params.threads);
  await saturate(pool, params.warmup, params.inFlight, 1);
  await collectGarbage();
  const ms = await saturate(pool, params.tasks, params.inFlight, 1);
  report(params.tasks / (ms / 1e3));
});
