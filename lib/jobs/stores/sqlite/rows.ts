import type { StoredJob, StoredSchedule } from '../job-store.js';


/** The columns of a StoredJob, in its field order (the store adds owner, lease_until and cancel_requested). */
export const JOB_COLUMNS =
  'id, name, queue, state, payload, key, priority, attempts, max_attempts, stalls, run_at, created_at, started_at, finished_at, progress, result, errors, options, trace';

/** A row as a plain StoredJob: drivers hand back null-prototype objects or extra keys (libsql's `_metadata`). */
export function toJob(row: Record<string, unknown>): StoredJob {
  return {
    id: row.id as string,
    name: row.name as string,
    queue: row.queue as string,
    state: row.state as StoredJob['state'],
    payload: row.payload as string,
    key: row.key as string | null,
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
export function byClaimOrder(a: StoredJob, b: StoredJob): number {
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
