import type { StoredJob } from '../job-store.js';


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
