/**
 * The in-process queues under test behind one small interface, each used the way its documentation shows. Each
 * library is imported only by the process that measures it, so that no process pays for loading the others.
 */
export type Work = () => Promise<unknown>;

export interface QueueUnderTest {
  /** Hands `work` to the queue, fire-and-forget: the caller does not await it. */
  submit(work: Work): void;
  /** Resolves once everything submitted has run. */
  idle(): Promise<void>;
}

export interface QueueSettings {
  concurrency: number;
  /** Pending items the queue must accept (only ours has a limit; it is set high enough for the scenario). */
  capacity: number;
}

export const OURS = 'nestjs-background-work';
export const QUEUE_LIBS = [OURS, 'fastq', 'p-queue'] as const;

export async function createQueue(lib: string, { concurrency, capacity }: QueueSettings): Promise<QueueUnderTest> {
  switch (lib) {
    case OURS: {
      // Through the public path: the module builds the queue from its options, as in an application. Only set-up
      // costs more than constructing BackgroundQueue by hand; enqueue() is the same call either way.
      const { BackgroundQueue } = await import('nestjs-background-work');
      const { ourApp } = await import('./nest.js');
      const app = await ourApp({ queue: { concurrency, capacity } });
      const queue = app.get(BackgroundQueue);
      return {
        submit: (work) => void queue.enqueue(work),
        idle: () => queue.onIdle(),
      };
    }
    case 'fastq': {
      const { default: fastq } = await import('fastq');
      // fastq's promise API runs one worker function over pushed values; the value here is the work itself.
      const queue = fastq.promise((work: Work) => work(), concurrency);
      return {
        submit: (work) => void queue.push(work),
        idle: () => queue.drained(),
      };
    }
    case 'p-queue': {
      const { default: PQueue } = await import('p-queue');
      const queue = new PQueue({ concurrency });
      return {
        submit: (work) => void queue.add(work),
        idle: () => queue.onIdle(),
      };
    }
    case 'floor': {
      // No queue at all: a bare call of the async function. Nothing can dispatch an item for less.
      return {
        submit: (work) => void work(),
        idle: () => Promise.resolve(),
      };
    }
    default:
      throw new Error(`unknown queue library ${lib}`);
  }
}
