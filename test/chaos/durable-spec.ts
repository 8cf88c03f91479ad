// What the durable rounds' driver and app share: the job specs, the marks file's lines, the env names.
import { Random, mixSeed } from './spec.js';

/** The payload of one durable job: the body of POST /jobs, stored as the job's payload. */
export interface DurableSpec {
  /** The driver's id, unique within a round. */
  id: number;
  /** How long each attempt works, in ms (0 with `sync`). */
  ms: number;
  /** Runs and returns (or throws) synchronously. */
  sync: boolean;
  /** Attempts 1..fails throw after working; 0 never throws. */
  fails: number;
  /** The job's retry policy: how many attempts it may start, and the delay between them. */
  attempts: number;
  delay: number;
  /** The job's `key` (unique within the round, so it never folds two requests into one job), or none. */
  key: string | undefined;
}

/** Whether the job must end finished (an attempt within its policy succeeds) or failed (every attempt throws). */
export function plannedOutcome(spec: DurableSpec): 'finished' | 'failed' {
  return spec.fails >= spec.attempts ? 'failed' : 'finished';
}

/** The attempt that ends the job: the first one that does not throw, or the last one allowed. */
export function finalAttempt(spec: DurableSpec): number {
  return Math.min(spec.fails + 1, spec.attempts);
}

/**
 * Job `id` of the round of `seed`: mostly short, some long enough to be caught running by a kill, some failing
 * then succeeding on a retry, some failing on every attempt (with and without retries).
 */
export function durableSpecFor(seed: number, id: number): DurableSpec {
  const rng = new Random(mixSeed(seed ^ 0x5eed_d0b5, id));
  const roll = rng.next();
  const ms = roll < 0.7 ? rng.int(1, 15) : roll < 0.94 ? rng.int(15, 120) : rng.int(300, 900);
  const spec: DurableSpec = { id, ms, sync: false, fails: 0, attempts: 1, delay: 0, key: undefined };
  if (rng.chance(0.05)) {
    spec.sync = true;
    spec.ms = 0;
  }
  const failing = rng.next();
  if (failing < 0.15) {
    // Fails at first, then succeeds on a retry.
    spec.fails = rng.int(1, 2);
    spec.attempts = spec.fails + rng.int(1, 2);
  } else if (failing < 0.23) {
    // Fails on every attempt it may start: once (no retry) or two or three times.
    spec.attempts = rng.int(1, 3);
    spec.fails = spec.attempts;
  }
  if (spec.attempts > 1) spec.delay = rng.int(5, 60);
  if (rng.chance(0.3)) spec.key = `chaos-key-${id}`;
  return spec;
}

/** The environment the driver gives the durable app. */
export const DURABLE_ENV = {
  /** The SQLite file of the job store (the same one across the round's restarts). */
  db: 'CHAOS_DB',
  /** The marks file: one appended line per start, finish and planned failure of an attempt. */
  marks: 'CHAOS_MARKS_FILE',
  concurrency: 'CHAOS_CONCURRENCY',
} as const;

/** The job's name, and the queue it runs on. */
export const DURABLE_JOB = 'chaos-durable';
export const DURABLE_QUEUE = 'durable';

/** What a thrown planned failure is named. */
export const DURABLE_FAILURE = 'DurableChaosFailure';

/**
 * One line of the marks file, appended (appendFileSync, one O_APPEND write) by the handler:
 * `start <id> <attempt> <pid> <job id>` before an attempt works, `done <id> <attempt> <pid>` just before it returns,
 * `fail <id> <attempt> <pid>` just before it throws its planned failure.
 */
export interface Mark {
  kind: 'start' | 'done' | 'fail';
  id: number;
  attempt: number;
  pid: number;
  job: string | undefined;
}

const MARK_LINE = /^(start|done|fail) (\d+) (\d+) (\d+)(?: (\S+))?$/;

/** The marks, in the order written. A line cut short by a kill cannot happen (one small O_APPEND write), but it is skipped if it does. */
export function parseMarks(text: string): { marks: Mark[]; bad: string[] } {
  const marks: Mark[] = [];
  const bad: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = MARK_LINE.exec(line);
    if (m === null) {
      bad.push(line);
      continue;
    }
    marks.push({ kind: m[1] as Mark['kind'], id: Number(m[2]), attempt: Number(m[3]), pid: Number(m[4]), job: m[5] });
  }
  return { marks, bad };
}
