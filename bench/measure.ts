/**
 * What every scenario process shares: reading its arguments, timing, reading the heap, keeping a bounded number of
 * items in flight, and handing one figure back to the runner.
 */
import { setImmediate as nextMacrotask } from 'node:timers/promises';

/** The line the runner looks for on a child's stdout; everything else there (logs) is ignored. */
export const RESULT_MARKER = 'BENCH_RESULT ';

export interface ScenarioArgs<P> {
  /** Which implementation this process measures: `nestjs-background-work`, `fastq`, `floor`... */
  lib: string;
  /** Sizes and settings, from the scenario table in scenarios.ts (smaller in quick mode). */
  params: P;
}

/** The runner calls `node scenario.js <lib> <params as JSON>`. */
export function scenarioArgs<P>(): ScenarioArgs<P> {
  const [lib, json] = process.argv.slice(2);
  if (lib === undefined || json === undefined) {
    throw new Error(`usage: node ${process.argv[1]} <lib> <params JSON>`);
  }
  return { lib, params: JSON.parse(json) as P };
}

/**
 * Hands the figure to the runner and ends the process. Exiting at once (rather than closing pools, apps and
 * servers) keeps teardown out of the run time and cannot hang on a handle some library left open.
 */
export function report(value: number, detail?: Record<string, unknown>): void {
  if (!Number.isFinite(value)) throw new Error(`not a finite result: ${value}`);
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify({ value, ...detail })}\n`, () => process.exit(0));
}

/** The line by which a child says that this (scenario, library) cannot run here, and why. */
export const SKIP_MARKER = 'BENCH_SKIP ';

/**
 * Tells the runner that this library cannot be measured on this machine (a driver not installed, a Node without
 * node:sqlite, no Redis server) and ends the process. The runner shows the reason and does not count a failure.
 */
export function skip(reason: string): void {
  process.stdout.write(`${SKIP_MARKER}${JSON.stringify({ reason })}\n`, () => process.exit(0));
}

/** Runs a scenario's main function and turns a failure into a non-zero exit the runner reports. */
export function main(run: () => Promise<void>): void {
  run().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

/** Monotonic milliseconds with sub-microsecond resolution. */
export function now(): number {
  return performance.now();
}

/**
 * Collects garbage left by set-up and warm-up, so that the measured phase neither pays for collecting it nor reads
 * a heap that still holds it. Several passes because one major GC can leave work for the next (weak references,
 * finalizers); the macrotask between passes lets pending promise jobs release what they hold.
 */
export async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  for (let i = 0; i < 3; i++) {
    await nextMacrotask();
    gc();
  }
}

const kept: unknown[] = [];

/**
 * Keeps `value` reachable until the process ends. A local variable that is not used again is dead to V8 even while
 * its function is suspended in an await, so a queue whose backlog is being weighed must be held from outside.
 */
export function keepAlive(value: unknown): void {
  kept.push(value);
}

/** Bytes of live JavaScript heap: call `collectGarbage()` first, or it includes garbage. */
export function heapUsed(): number {
  return process.memoryUsage().heapUsed;
}

/**
 * Keeps at most `limit` items outstanding: the producer checks `full` before each submit (and awaits `room()` only
 * then) and each item calls `release()` once it has run. The producer resumes at half the limit, so that it waits on
 * one promise per `limit / 2` items: the harness costs well under 1 ns per item, and the same for every library.
 */
export class Window {
  outstanding = 0;
  private wake: (() => void) | undefined = undefined;
  private wakeAt = 0;
  private readonly resumeAt: number;

  constructor(readonly limit: number) {
    this.resumeAt = Math.floor(limit / 2);
  }

  /** True when the producer must `await room()` before submitting another item. */
  get full(): boolean {
    return this.outstanding >= this.limit;
  }

  room(): Promise<void> {
    return this.until(this.resumeAt);
  }

  /** Resolves when every item has been released. */
  empty(): Promise<void> {
    return this.outstanding === 0 ? Promise.resolve() : this.until(0);
  }

  /** An arrow function, so that it can be passed as a callback without `bind`. */
  readonly release = (): void => {
    this.outstanding--;
    if (this.wake !== undefined && this.outstanding <= this.wakeAt) {
      const wake = this.wake;
      this.wake = undefined;
      wake();
    }
  };

  private until(outstanding: number): Promise<void> {
    this.wakeAt = outstanding;
    return new Promise((resolve) => (this.wake = resolve));
  }
}

/**
 * `concurrency` async loops that each await `work` in turn until `items` have run: a bounded-concurrency load with
 * no queue at all, the floor that the timer scenarios compare the queues with. Returns the elapsed ms.
 */
export async function lanes(items: number, concurrency: number, work: () => Promise<unknown>): Promise<number> {
  const began = now();
  const each = Math.ceil(items / concurrency);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = 0; i < each; i++) await work();
    }),
  );
  return now() - began;
}

export function median(values: readonly number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The value below which `p` (0..1) of the samples fall (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('no samples');
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}
