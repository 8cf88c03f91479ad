// What the chaos driver and the chaos app share: the seeded PRNG, the work item specs, the files and the env names.

/** A small seeded PRNG (mulberry32): the same seed gives the same round. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(values: readonly T[]): T {
    return values[Math.floor(this.next() * values.length)]!;
  }
}

/** Mixes two 32-bit numbers into one seed (so that an item's spec depends on the round's seed and its id only). */
export function mixSeed(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}

/** What one POST /work asks the app to enqueue; the body of the request. */
export interface ItemSpec {
  /** The driver's id, unique within a round; the item is named `job-<id>`. */
  id: number;
  /** How long each attempt works, in ms. */
  ms: number;
  /** Work that sleeps through its aborted signal (at a timeout or at the shutdown deadline). */
  ignoreSignal: boolean;
  /** Returns (or throws) synchronously, without awaiting anything. */
  sync: boolean;
  /** Attempts 1..fails throw (after working `ms`); 0 never throws, a large number always does. */
  fails: number;
  /** Throws a string instead of an Error. */
  nonError: boolean;
  retry?: { attempts: number; delay: number; backoff: 'fixed' | 'exponential' };
  /** Per-attempt timeout in ms. */
  timeout?: number;
}

export const ALWAYS_FAILS = 99;

/** How many attempts the item may start: its retry policy's `attempts`, or 1. */
export function allowedAttempts(spec: ItemSpec): number {
  return spec.retry?.attempts ?? 1;
}

export const itemName = (id: number): string => `job-${id}`;

/** The spec of item `id` in the round of `seed`: mixed lengths, some failing (with and without retry), some ignoring their signal. */
export function specFor(seed: number, id: number): ItemSpec {
  const rng = new Random(mixSeed(seed, id));
  const roll = rng.next();
  const ms = roll < 0.65 ? rng.int(1, 50) : roll < 0.92 ? rng.int(50, 500) : rng.int(500, 2_500);
  const spec: ItemSpec = { id, ms, ignoreSignal: false, sync: false, fails: 0, nonError: false };
  if (rng.chance(0.05)) {
    spec.sync = true;
    spec.ms = 0;
    if (rng.chance(0.3)) spec.fails = ALWAYS_FAILS;
    return spec;
  }
  spec.ignoreSignal = rng.chance(0.2);
  // Some of those outlive the deadline's grace, to be abandoned.
  if (spec.ignoreSignal && rng.chance(0.25)) spec.ms = rng.int(1_200, 3_000);
  const failing = rng.next();
  if (failing < 0.12) {
    // Fails on every attempt, half of them with a retry policy that cannot save it.
    spec.fails = ALWAYS_FAILS;
    if (rng.chance(0.5)) spec.retry = retryPolicy(rng, rng.int(2, 3));
  } else if (failing < 0.24) {
    // Fails at first, then succeeds on a retry (unless the shutdown deadline cuts it).
    spec.fails = rng.int(1, 2);
    spec.retry = retryPolicy(rng, spec.fails + rng.int(1, 2));
  }
  if (spec.fails > 0) spec.nonError = rng.chance(0.2);
  if (rng.chance(0.1)) {
    // Some time out (the timeout is shorter than the work), some do not.
    spec.timeout = Math.max(5, rng.int(Math.floor(spec.ms / 3), Math.ceil(spec.ms * 1.5)));
    if (spec.retry === undefined && rng.chance(0.5)) spec.retry = retryPolicy(rng, 2);
  }
  return spec;
}

function retryPolicy(rng: Random, attempts: number): NonNullable<ItemSpec['retry']> {
  return { attempts, delay: rng.int(5, 150), backoff: rng.pick(['fixed', 'exponential'] as const) };
}

/** The environment the driver gives the app. */
export const ENV = {
  shutdownTimeout: 'CHAOS_SHUTDOWN_TIMEOUT',
  concurrency: 'CHAOS_CONCURRENCY',
  capacity: 'CHAOS_CAPACITY',
  /** One line `<id> <attempt> done|late` each time a work function finishes without throwing. */
  results: 'CHAOS_RESULTS_FILE',
  /** One line `<id> <attempt> <queue item id>` each time an attempt starts. */
  starts: 'CHAOS_STARTS_FILE',
} as const;

/** Lines the app prints on stdout. */
export const MARK = {
  ready: 'READY',
  /** Printed from onModuleDestroy: Nest has begun to close, and the HTTP adapter answers 503 from now on. */
  closing: 'CHAOS CLOSING',
  unhandled: 'CHAOS UNHANDLED REJECTION',
  /** Printed at exit: the most work functions running at once. */
  peak: 'CHAOS PEAK RUNNING',
} as const;

/** What a thrown Error's message starts with, so that the driver can tell the planned failures' stacks. */
export const PLANNED_FAILURE = 'ChaosFailure';
