import type { JobError, JobRecord, ScheduleRecord } from './job.types.js';
import type { StoredJob, StoredJobError, StoredSchedule } from './stores/job-store.js';

/** A stored row as the public `JobRecord`: JSON parsed, times as Dates, absent values left out. `payload`: see below. */
export function toJobRecord<P = unknown>(row: StoredJob, payload?: P): JobRecord<P> {
  const record: JobRecord<P> = {
    id: row.id,
    name: row.name,
    queue: row.queue,
    state: row.state,
    // The caller's own payload when it is the one just stored (it survives JSON unchanged): not parsed back.
    payload: payload === undefined ? (JSON.parse(row.payload) as P) : payload,
    priority: row.priority,
    attempts: row.attempts,
    maxAttempts: row.maxAttempts,
    stalls: row.stalls,
    runAt: new Date(row.runAt),
    createdAt: new Date(row.createdAt),
    errors: row.errors === '[]' ? [] : (JSON.parse(row.errors) as StoredJobError[]).map(toJobError),
  };
  if (row.key !== null) record.key = row.key;
  if (row.group !== null) record.group = row.group;
  if (row.startedAt !== null) record.startedAt = new Date(row.startedAt);
  if (row.finishedAt !== null) record.finishedAt = new Date(row.finishedAt);
  if (row.progress !== null) record.progress = row.progress;
  if (row.result !== null) record.result = JSON.parse(row.result);
  return record;
}

function toJobError(error: StoredJobError): JobError {
  const out: JobError = { attempt: error.attempt, name: error.name, message: error.message, at: new Date(error.at) };
  if (error.stack !== undefined) out.stack = error.stack;
  return out;
}

/** What a thrown value becomes in a job's errors: any value, Error or not. */
export function toStoredError(error: unknown, attempt: number, at: number): StoredJobError {
  if (error instanceof Error) {
    const stored: StoredJobError = { attempt, name: error.name, message: error.message, at };
    if (error.stack !== undefined) stored.stack = error.stack;
    return stored;
  }
  let message: string;
  try {
    message = typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error));
  } catch {
    message = String(error);
  }
  return { attempt, name: 'NonError', message, at };
}

/** A stored schedule as the public `ScheduleRecord`. */
export function toScheduleRecord<P = unknown>(row: StoredSchedule): ScheduleRecord<P> {
  const record: ScheduleRecord<P> = {
    id: row.id,
    cron: row.cron,
    tz: row.tz,
    name: row.name,
    queue: row.queue,
    payload: JSON.parse(row.payload) as P,
    overlap: row.overlap,
    misfire: row.misfire,
    source: row.source,
    createdAt: new Date(row.createdAt),
    updatedAt: new Date(row.updatedAt),
  };
  if (row.nextRunAt !== null) record.nextRunAt = new Date(row.nextRunAt);
  if (row.lastJobId !== null) record.lastJobId = row.lastJobId;
  return record;
}
