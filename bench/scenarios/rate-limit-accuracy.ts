/**
 * rate-limit-accuracy (ratio, higher is better, 1.0 at most): a backlog of no-op items through a queue limited to
 * `max` starts per `per` ms, for `windows` windows. The figure is the configured rate over the achieved one,
 * measured from the first start to the first start of window `windows + 1` (ideally `windows × per` ms later):
 * 1.0 is exact, below it the limiter loses time (a timer that fires late delays every window after it). `burst` in
 * the detail is the most starts seen in any `per` ms, which must never exceed `max`. p-queue's
 * `{ intervalCap, interval }` is the anchor, in the same run.
 */
import { main, now, report, scenarioArgs } from '../measure.js';
import { OURS } from '../queues.js';

interface Params {
  max: number;
  per: number;
  windows: number;
}

interface Limited {
  submit(work: () => void): void;
}

async function limitedQueue(lib: string, { max, per }: Params, capacity: number): Promise<Limited> {
  if (lib === OURS) {
    const { BackgroundQueue } = await import('nestjs-background-work');
    const { ourApp } = await import('../nest.js');
    const app = await ourApp({ queue: { concurrency: Infinity, capacity, rateLimit: { max, per } } });
    const queue = app.get(BackgroundQueue);
    return { submit: (work) => void queue.enqueue(work) };
  }
  if (lib === 'p-queue') {
    const { default: PQueue } = await import('p-queue');
    const queue = new PQueue({ intervalCap: max, interval: per });
    return { submit: (work) => void queue.add(work) };
  }
  throw new Error(`unknown library ${lib}`);
}

/** The most starts in any window of `per` ms. */
function busiest(starts: Float64Array, per: number): number {
  let most = 0;
  for (let i = 0, j = 0; i < starts.length; i++) {
    while (starts[i]! - starts[j]! >= per) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

main(async () => {
  const { lib, params } = scenarioArgs<Params>();
  const count = params.max * params.windows + 1;
  const queue = await limitedQueue(lib, params, count);
  const starts = new Float64Array(count);
  let started = 0;
  const done = new Promise<void>((resolve) => {
    for (let i = 0; i < count; i++) {
      queue.submit(() => {
        starts[started++] = now();
        if (started === count) resolve();
      });
    }
  });
  await done;
  const elapsed = starts[count - 1]! - starts[0]!;
  const ideal = params.windows * params.per;
  report(ideal / elapsed, { ms: Math.round(elapsed), ideal, burst: busiest(starts, params.per), max: params.max });
});
