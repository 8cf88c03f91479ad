/**
 * threads-cpu (tasks/s, higher is better): poolifier's CPU-bound task (5,000 JSON.stringify calls) with every
 * thread kept busy. Here the work dominates, so any gap between our pool and raw Piscina is overhead we add per task.
 */
import { collectGarbage, main, report, scenarioArgs } from '../measure.js';
import { createPool, saturate } from '../pools.js';

interface Params {
  tasks: number;
  warmup: number;
  threads: number;
  inFlight: number;
  taskSize: number;
}

const TASK = new URL('../tasks/json-stringify.task.js', import.meta.url);

main(async () => {
  const { lib, params } = scenarioArgs<Params>();
  const pool = await createPool(lib, TASK, params.threads);
  await saturate(pool, params.warmup, params.inFlight, params.taskSize);
  await collectGarbage();
  const ms = await saturate(pool, params.tasks, params.inFlight, params.taskSize);
  report(params.tasks / (ms / 1e3));
});
