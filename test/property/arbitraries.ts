import * as fc from 'fast-check';

/** What one attempt of a work function does. */
export interface AttemptScript {
  /** `ok` returns a value; `error` throws an Error; the others throw that non-Error. */
  outcome: 'ok' | 'error' | 'string' | 'object' | 'undefined';
  /** 0: returns or throws synchronously; otherwise settles after this many (fake) ms. */
  delay: number;
}

/**
 * How the function treats `ctx.signal`: `honour` rejects with its reason at once; `ignore` listens but runs on;
 * `none` never reads it; `late` reads it only when it is about to return (so the controller is made after the
 * abort). `none` and `late` become `ignore` on an item with a timeout, so that every timeout is observed.
 */
export type SignalUse = 'honour' | 'ignore' | 'none' | 'late';

export type RetryOption = number | { attempts: number; backoff?: 'fixed' | 'exponential'; delay?: number; maxDelay?: number; jitter?: boolean };

export interface ItemSpec {
  /** Attempt n runs script[n - 1]; the last entry repeats. */
  script: AttemptScript[];
  signal: SignalUse;
  name: string | undefined;
  /** The `timeout` option: undefined inherits the queue's, Infinity turns it off. */
  timeout: number | undefined;
  /** The `retry` option: undefined inherits the queue's. */
  retry: RetryOption | undefined;
  /** Passes a `signal` aborted this many ms later; 0: already aborted. */
  abortAfter: number | undefined;
  /** With `abortAfter`: pass the signal of the last item that got one instead (one request's signal for many items). */
  shareSignal: boolean;
  abortReason: 'none' | 'text' | 'error';
  /** Read `result` at once, or only after the item has ended (the promise is then made already settled). */
  readResult: 'early' | 'late';
  /** The `group` option: items of one group run one at a time, in enqueue order. */
  group: string | undefined;
}

export type CancelReason = 'none' | 'text' | 'error' | 'cancelled';

export type Command =
  | { type: 'enqueue'; item: ItemSpec }
  | { type: 'enqueueAsync'; item: ItemSpec }
  /** Cancels the item `pick` modulo the number of accepted items. */
  | { type: 'cancel'; pick: number; reason: CancelReason }
  | { type: 'advance'; ms: number }
  | { type: 'close' }
  /** Closes (if not yet closed) and drains with a deadline this many ms away, as the host does at shutdown. */
  | { type: 'drain'; deadline: number }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'setConcurrency'; concurrency: number };

export interface QueueConfig {
  concurrency: number;
  capacity: number;
  timeout: number | undefined;
  retry: RetryOption | undefined;
  /** At most `max` starts in any `per` ms. */
  rateLimit: { max: number; per: number } | undefined;
}

export interface Program {
  /** The fake clock's start. 0 is where `vi.useFakeTimers({ now: 0 })` starts it. */
  startTime: number;
  config: QueueConfig;
  commands: Command[];
}

/**
 * Retry delays are at least 1 ms: fake timers run a 0 ms timer set during a tick 1 ms later but one set between
 * ticks at once, which would make the model's timing depend on where the failure happened.
 */
const retryArb: fc.Arbitrary<RetryOption> = fc.oneof(
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) },
  {
    weight: 4,
    arbitrary: fc
      .record(
        {
          attempts: fc.integer({ min: 1, max: 4 }),
          backoff: fc.constantFrom('fixed' as const, 'exponential' as const),
          delay: fc.integer({ min: 1, max: 40 }),
          maxDelay: fc.integer({ min: 1, max: 100 }),
          jitter: fc.boolean(),
        },
        { requiredKeys: ['attempts'] },
      )
      // maxDelay may not be below delay (whose default is 1_000).
      .map((policy) => (policy.maxDelay === undefined ? policy : { ...policy, maxDelay: Math.max(policy.maxDelay, policy.delay ?? 1_000) })),
  },
);

const attemptArb: fc.Arbitrary<AttemptScript> = fc.record({
  outcome: fc.oneof(
    { weight: 5, arbitrary: fc.constant('ok' as const) },
    { weight: 3, arbitrary: fc.constant('error' as const) },
    { weight: 1, arbitrary: fc.constantFrom('string' as const, 'object' as const, 'undefined' as const) },
  ),
  delay: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 4, arbitrary: fc.integer({ min: 1, max: 60 }) }),
});

function optional<T>(arbitrary: fc.Arbitrary<T>, weight: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: 10 - weight, arbitrary: fc.constant(undefined) }, { weight, arbitrary });
}

/** How often each kind of thing happens: `mixed` exercises everything, `backpressure` a full queue. */
export interface Profile {
  concurrency: fc.Arbitrary<number>;
  capacity: fc.Arbitrary<number>;
  enqueue: number;
  enqueueAsync: number;
  cancel: number;
  advance: number;
  /** Weight (out of 10) of items with a caller signal, and of those sharing the previous item's signal. */
  signal: number;
  shareSignal: number;
  /** Weight (out of 10) of items in one of two groups. */
  group: number;
  pause: number;
  resume: number;
  setConcurrency: number;
}

export const MIXED: Profile = {
  concurrency: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.constant(Infinity) }),
  capacity: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constant(Infinity) }),
  enqueue: 8,
  enqueueAsync: 3,
  cancel: 2,
  advance: 6,
  signal: 2,
  shareSignal: 5,
  group: 3,
  pause: 1,
  resume: 2,
  setConcurrency: 1,
};

export const BACKPRESSURE: Profile = {
  concurrency: fc.integer({ min: 1, max: 2 }),
  capacity: fc.integer({ min: 1, max: 2 }),
  enqueue: 3,
  enqueueAsync: 8,
  cancel: 2,
  advance: 4,
  signal: 6,
  shareSignal: 7,
  group: 2,
  pause: 1,
  resume: 2,
  setConcurrency: 1,
};

export function itemArb(profile: Profile): fc.Arbitrary<ItemSpec> {
  return fc.record({
    script: fc.array(attemptArb, { minLength: 1, maxLength: 3 }),
    signal: fc.constantFrom<SignalUse>('honour', 'ignore', 'none', 'late'),
    name: optional(fc.constantFrom('mail', 'pdf'), 3),
    timeout: optional(fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 60 }) }, { weight: 1, arbitrary: fc.constant(Infinity) }), 3),
    retry: optional(retryArb, 4),
    abortAfter: optional(fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 5, arbitrary: fc.integer({ min: 1, max: 80 }) }), profile.signal),
    shareSignal: fc.oneof({ weight: 10 - profile.shareSignal, arbitrary: fc.constant(false) }, { weight: profile.shareSignal, arbitrary: fc.constant(true) }),
    abortReason: fc.constantFrom('none' as const, 'text' as const, 'error' as const),
    readResult: fc.constantFrom('early' as const, 'late' as const),
    group: optional(fc.constantFrom('g1', 'g2'), profile.group),
  });
}

function configArb(profile: Profile): fc.Arbitrary<QueueConfig> {
  return fc.record({
    concurrency: profile.concurrency,
    capacity: profile.capacity,
    timeout: optional(fc.integer({ min: 5, max: 60 }), 3),
    retry: optional(retryArb, 3),
    rateLimit: optional(fc.record({ max: fc.integer({ min: 1, max: 3 }), per: fc.integer({ min: 5, max: 50 }) }), 2),
  });
}

/** Everything but shutdown, which comes at most once (see `programArb`). */
function stepArb(profile: Profile): fc.Arbitrary<Command> {
  const item = itemArb(profile);
  return fc.oneof(
    { weight: profile.enqueue, arbitrary: item.map((spec) => ({ type: 'enqueue' as const, item: spec })) },
    { weight: profile.enqueueAsync, arbitrary: item.map((spec) => ({ type: 'enqueueAsync' as const, item: spec })) },
    { weight: profile.cancel, arbitrary: fc.record({ type: fc.constant('cancel' as const), pick: fc.nat(), reason: fc.constantFrom<CancelReason>('none', 'text', 'error', 'cancelled') }) },
    { weight: profile.advance, arbitrary: fc.record({ type: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 80 }) }) },
    { weight: profile.pause, arbitrary: fc.constant({ type: 'pause' as const }) },
    { weight: profile.resume, arbitrary: fc.constant({ type: 'resume' as const }) },
    {
      weight: profile.setConcurrency,
      arbitrary: fc.record({
        type: fc.constant('setConcurrency' as const),
        concurrency: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constant(Infinity) }),
      }),
    },
  );
}

/** Where close() and drain() go in the program: after `at` steps, the drain `after` steps later. */
const shutdownArb = fc.record({
  at: fc.nat(30),
  close: fc.boolean(),
  drain: fc.option(fc.record({ after: fc.nat(4), deadline: fc.integer({ min: 1, max: 300 }) }), { nil: undefined }),
});

export function programArb(profile: Profile): fc.Arbitrary<Program> {
  return fc
    .record({
      startTime: fc.constantFrom(1_700_000_000_000, 0),
      config: configArb(profile),
      steps: fc.array(stepArb(profile), { minLength: 1, maxLength: 40, size: 'large' }),
      shutdown: optional(shutdownArb, 6),
    })
    .map(({ startTime, config, steps, shutdown }) => {
      const commands = [...steps];
      if (shutdown !== undefined) {
        const at = Math.min(shutdown.at, commands.length);
        if (shutdown.drain !== undefined) {
          commands.splice(Math.min(at + shutdown.drain.after, commands.length), 0, { type: 'drain', deadline: shutdown.drain.deadline });
        }
        if (shutdown.close) commands.splice(at, 0, { type: 'close' });
      }
      return { startTime, config, commands };
    });
}
