import type { JobState } from '../../job.types.js';
import type { ClaimedJob, NewJob, StoredJob, StoredJobError } from '../job-store.js';

/**
 * The shape of a BullMQ job that this store reads: a structural subset of bullmq's `Job`, so that the package's
 * types never reach our public declarations (bullmq is an optional peer).
 */
export interface BullJob {
  id?: string;
  name: string;
  data: unknown;
  opts: BullJobOptions;
  timestamp: number;
  attemptsMade: number;
  stalledCounter?: number;
  processedOn?: number;
  finishedOn?: number;
  progress: unknown;
  returnvalue: unknown;
  failedReason?: string;
  stacktrace?: string[] | null;
  priority?: number;
}

export interface BullJobOptions {
  jobId?: string;
  timestamp?: number;
  priority?: number;
  delay?: number;
  attempts?: number;
  backoff?: { type: string; delay?: number };
  deduplication?: { id: string };
  removeOnComplete?: { age: number } | boolean;
  removeOnFail?: { age: number } | boolean;
  /** Ours: the job's `{ retry, timeout }` overrides (JSON text). */
  bwOptions?: string;
  /** Ours: the producer's trace context. */
  bwTrace?: string;
}

/**
 * Ours is "higher runs first" in -1e6..1e6; BullMQ's is "lower runs first" in 1..2^21, and a job without one
 * (0) runs before every prioritized job. So every job is prioritized, around the middle of BullMQ's range: ours
 * 0 is 2^20, ours 1e6 is 48,576, ours -1e6 is 2,048,576. Within one priority BullMQ keeps FIFO order.
 */
export const PRIORITY_CENTER = 1_048_576;

export const toBullPriority = (priority: number): number => PRIORITY_CENTER - priority;
export const fromBullPriority = (priority: number | undefined): number => (priority ? PRIORITY_CENTER - priority : 0);

/** Marks the last line of a stack that BullMQ keeps per failed attempt: our error record, as JSON. */
const MARK = '--bw ';

/**
 * What the handler's failure becomes for BullMQ: an Error with our name and message (BullMQ keeps the message as
 * `failedReason`), whose stack (kept per attempt in `stacktrace`, shown by bull-board) ends with a line that holds
 * our whole record, so that `errors` reads back exactly.
 */
export function toBullError(error: StoredJobError): Error {
  const out = new Error(error.message);
  out.name = error.name;
  const record = { attempt: error.attempt, name: error.name, message: error.message, at: error.at };
  out.stack = `${error.stack ?? `${error.name}: ${error.message}`}\n${MARK}${JSON.stringify(record)}`;
  return out;
}

/** A job's errors, oldest first, from BullMQ's stack traces (and its failedReason when BullMQ failed it itself). */
export function errorsOf(job: BullJob, state: JobState): StoredJobError[] {
  const errors: StoredJobError[] = [];
  for (const entry of job.stacktrace ?? []) {
    const cut = entry.lastIndexOf(`\n${MARK}`);
    if (cut < 0) {
      errors.push({ attempt: errors.length + 1, name: 'Error', message: entry.split('\n', 1)[0], stack: entry, at: job.finishedOn ?? job.processedOn ?? job.timestamp });
      continue;
    }
    const record = JSON.parse(entry.slice(cut + MARK.length + 1)) as StoredJobError;
    const stack = entry.slice(0, cut);
    if (stack !== `${record.name}: ${record.message}`) record.stack = stack;
    errors.push(record);
  }
  // A job that BullMQ failed on its own (stalled too often) has a reason and no stack of ours.
  if (state === 'failed' && job.failedReason && errors.at(-1)?.message !== job.failedReason) {
    const name = /stalled/.test(job.failedReason) ? 'JobStalledError' : 'Error';
    errors.push({ attempt: job.attemptsMade, name, message: job.failedReason, at: job.finishedOn ?? job.timestamp });
  }
  return errors;
}

/** BullMQ's state names as ours. */
export function stateOf(bullState: string): JobState | undefined {
  switch (bullState) {
    case 'waiting':
    case 'prioritized':
    case 'paused':
    case 'waiting-children':
      return 'pending';
    case 'delayed':
      return 'scheduled';
    case 'active':
      return 'running';
    case 'completed':
      return 'succeeded';
    case 'failed':
      return 'failed';
    default:
      return undefined;
  }
}

/** Our states as BullMQ's (for its counts). */
export const BULL_STATES: Record<Exclude<JobState, 'cancelled'>, readonly string[]> = {
  pending: ['waiting', 'prioritized', 'paused', 'waiting-children'],
  scheduled: ['delayed'],
  running: ['active'],
  succeeded: ['completed'],
  failed: ['failed'],
};

export function toClaimedJob(job: BullJob, queue: string): ClaimedJob {
  return {
    id: job.id!,
    name: job.name,
    queue,
    payload: JSON.stringify(job.data),
    key: job.opts.deduplication?.id ?? null,
    group: null,
    priority: fromBullPriority(job.priority ?? job.opts.priority),
    attempts: job.attemptsMade + 1,
    stalls: job.stalledCounter ?? 0,
    runAt: job.timestamp + (job.opts.delay ?? 0),
    createdAt: job.timestamp,
    options: job.opts.bwOptions ?? null,
    trace: job.opts.bwTrace ?? null,
  };
}

export function toStoredJob(job: BullJob, queue: string, state: JobState): StoredJob {
  const result = job.returnvalue;
  return {
    ...toClaimedJob(job, queue),
    state,
    // A finished attempt is counted by BullMQ; the one running now is counted by us, as the other stores do.
    attempts: state === 'running' ? job.attemptsMade + 1 : job.attemptsMade,
    maxAttempts: job.opts.attempts || 1,
    startedAt: job.processedOn ?? null,
    finishedAt: state === 'succeeded' || state === 'failed' ? (job.finishedOn ?? null) : null,
    progress: typeof job.progress === 'number' && job.progress !== 0 ? job.progress : null,
    result: result === undefined || result === null ? null : JSON.stringify(result),
    errors: JSON.stringify(errorsOf(job, state)),
  };
}

/** What `insert` answers for a job it just added: the row as given, with the rest at its start. */
export function newStoredJob(job: NewJob, now: number): StoredJob {
  // Field by field rather than a spread: a spread of rows of several shapes took the slow path (~10 us a job).
  return {
    id: job.id,
    name: job.name,
    queue: job.queue,
    payload: job.payload,
    key: job.key,
    group: job.group,
    priority: job.priority,
    maxAttempts: job.maxAttempts,
    runAt: job.runAt,
    createdAt: job.createdAt,
    options: job.options,
    trace: job.trace,
    state: job.runAt > now ? 'scheduled' : 'pending',
    attempts: 0,
    stalls: 0,
    startedAt: null,
    finishedAt: null,
    progress: null,
    result: null,
    errors: '[]',
  };
}
