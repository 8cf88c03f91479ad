/**
 * threads-serial (µs/task): one tiny task at a time, each awaited before the next is sent: the latency of a
 * round trip to a worker thread and back, with the pool otherwise idle.
 */
import { collectGarbage, main, now, report, scenarioArgs } from '../measure.js';
import { createPool, type PoolUnderTest } from '../pools.js';

interface Params {
  tasks: number;
  warmup: number;
  threads: number;
}

const TASK = new URL('../tasks/echo.task.js', import.meta.url);

async function pass(pool: PoolUnderTest, tasks: number): Promise<number> {
  const began = now();
  for (let i = 0; i < tasks; i++) await pool.run(i);
  return now() - began;
}

main(async () => {
  const { lib, params } = scenarioArgs<Params>();
  const pool = await createPool(lib, TASK, params.threads);
  // Warm-up: threads started, the task file imported in each, and the JIT warm on both sides.
  await pass(pool, params.warmup);
  await collectGarbage();
  const ms = await pass(pool, params.tasks);
  report((ms * 1e3) / params.tasks);
});
