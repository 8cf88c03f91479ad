import type { ClaimedJob, StoredJob, StoredSchedule } from '../job-store.js';


/** The columns of a StoredJob, in its field order (the store adds owner, lease_until and cancel_requested). */
export const JOB_COLUMNS =
  'id, name, queue, state, payload, key, grp, priority, attempts, max_attempts, stalls, run_at, created_at, started_at, finished_at, progress, result, errors, options, trace';

/** What a claim returns (ClaimedJob less its queue, which the claim names): every column costs per row. */
export const CLAIM_COLUMNS = 'id, name, payload, key, priority, attempts, stalls, run_at, created_at, options, trace, grp';
const CLAIM_COLUMN_NAMES = CLAIM_COLUMNS.split(', ');

/** A claimed row's values in CLAIM_COLUMNS order, from a driver that gives objects. */
export function claimValues(row: Record<string, unknown>): unknown[] {
  return CLAIM_COLUMN_NAMES.map((name) => row[name]);
}

/** A claimed row (values in CLAIM_COLUMNS order) of `queue`. */
export function toClaimedJob(v: unknown[], queue: string): ClaimedJob {
  return {
    id: v[0] as string,
    name: v[1] as string,
    queue,
    payload: v[2] as string,
    key: v[3] as string | null,
    priority: v[4] as number,
    attempts: v[5] as number,
    stalls: v[6] as number,
    runAt: v[7] as number,
    createdAt: v[8] as number,
    options: v[9] as string | null,
    trace: v[10] as string | null,
    group: v[11] as string | null,
  };
}

/** Sorts `jobs` into claim order unless they already are (RETURNING mostly keeps the order of the index it read). */
export function inClaimOrder(jobs: ClaimedJob[]): ClaimedJob[] {
  for (let i = 1; i < jobs.length; i++) if (byClaimOrder(jobs[i - 1], jobs[i]) > 0) return jobs.toSorted(byClaimOrder);
  return jobs;
}

/** A row as a plain StoredJob: drivers hand back null-prototype objects or extra keys (libsql's `_metadata`). */
export function toJob(row: Record<string, unknown>): StoredJob {
  return {
    id: row.id as string,
    name: row.name as string,
    queue: row.queue as string,
    state: row.state as StoredJob['state'],
    payload: row.payload as string,
    key: row.key as string | null,
    group: row.grp as string | null,
    priority: row.priority as number,
    attempts: row.attempts as number,
    maxAttempts: row.max_attempts as number,
    stalls: row.stalls as number,
    runAt: row.run_at as number,
    createdAt: row.created_at as number,
    startedAt: row.started_at as number | null,
    finishedAt: row.finished_at as number | null,
    progress: row.progress as number | null,
    result: row.result as string | null,
    errors: row.errors as string,
    options: row.options as string | null,
    trace: row.trace as string | null,
  };
}

/** Claim order: higher priority first, then earlier runAt, then lower id (RETURNING comes back in any order). */
export function byClaimOrder(a: ClaimedJob, b: ClaimedJob): number {
  return b.priority - a.priority || a.runAt - b.runAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** SQL that appends the JSON text bound twice to a JSON array column, as the memory store does in JS. */
export const APPEND_ERROR = "CASE WHEN errors = '[]' THEN '[' || ? || ']' ELSE substr(errors, 1, length(errors) - 1) || ',' || ? || ']' END";

/** The columns of a StoredSchedule, in its field order. */
export const SCHEDULE_COLUMNS =
  'id, cron, tz, overlap, misfire, source, name, queue, payload, priority, max_attempts, options, next_run_at, last_job_id, created_at, updated_at';

export function toSchedule(row: Record<string, unknown>): StoredSchedule {
  return {
    id: row.id as string,
    cron: row.cron as string,
    tz: row.tz as string,
    overlap: row.overlap as StoredSchedule['overlap'],
    misfire: row.misfire as StoredSchedule['misfire'],
    source: row.source as StoredSchedule['source'],
    name: row.name as string,
    queue: row.queue as string,
    payload: row.payload as string,
    priority: row.priority as number,
    maxAttempts: row.max_attempts as number,
    options: row.options as string | null,
    nextRunAt: row.next_run_at as number | null,
    lastJobId: row.last_job_id as string | null,
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
  };
}
