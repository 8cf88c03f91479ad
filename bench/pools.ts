/**
 * The worker-thread pools under test behind one interface, with the same thread counts. Each library is imported
 * only by the process that measures it.
 */
import { Window, now } from './measure.js';
import { OURS } from './queues.js';

export interface PoolUnderTest {
  /** Runs the pool's task file with `input` on a worker thread. */
  run(input: unknown): Promise<unknown>;
}

export const POOL_LIBS = [OURS, 'piscina', 'tinypool'] as const;

/** A pool of exactly `threads` threads (minThreads = maxThreads), all running `task`'s default export. */
export async function createPool(lib: string, task: URL, threads: number): Promise<PoolUnderTest> {
  switch (lib) {
    case OURS: {
      const { WorkerThreads } = await import('nestjs-background-work');
      const { ourApp } = await import('./nest.js');
      const app = await ourApp({ threads: { minThreads: threads, maxThreads: threads } });
      const pool = app.get(WorkerThreads);
      return { run: (input) => pool.run(task, input) };
    }
    case 'piscina': {
      const { Piscina } = await import('piscina');
      const pool = new Piscina({ filename: task.href, minThreads: threads, maxThreads: threads });
      return { run: (input) => pool.run(input) };
    }
    case 'tinypool': {
      const { Tinypool } = await import('tinypool');
      const pool = new Tinypool({ filename: task.href, minThreads: threads, maxThreads: threads });
      return { run: (input) => pool.run(input) };
    }
    default:
      throw new Error(`unknown pool library ${lib}`);
  }
}

/**
 * Runs `tasks` tasks with up to `inFlight` of them sent and not yet answered, so that every thread always has its
 * next task waiting; returns the elapsed ms. A failed task rejects unhandled and so fails the process.
 */
export async function saturate(pool: PoolUnderTest, tasks: number, inFlight: number, input: unknown): Promise<number> {
  const window = new Window(inFlight);
  const began = now();
  for (let i = 0; i < tasks; i++) {
    if (window.full) await window.room();
    window.outstanding++;
    void pool.run(input).then(window.release);
  }
  await window.empty();
  return now() - began;
}
