import type { JobError, JobRecord, JobState, ScheduleRecord } from '../jobs/job.types.js';

/**
 * Jobs as the page shows them: what `BackgroundJobs.list()` and `get()` return, never more, with every long text
 * cut to a size a browser shows at once. Times are epoch ms.
 */

/** Characters of a payload shown in a list row. */
export const PREVIEW_CHARS = 300;
/** Characters of a payload or result shown on a job's page; the rest is cut, and the page says how much there was. */
export const DETAIL_CHARS = 64 * 1024;
const MESSAGE_CHARS = 8 * 1024;
const STACK_CHARS = 32 * 1024;

export interface CappedText {
  text: string;
  /** The length of the whole text, in characters. */
  length: number;
  truncated: boolean;
}

export interface ErrorView {
  attempt: number;
  name: string;
  message: string;
  stack: string | null;
  at: number;
}

export interface JobSummary {
  id: string;
  name: string;
  queue: string;
  state: JobState;
  key: string | null;
  group: string | null;
  priority: number;
  attempts: number;
  maxAttempts: number;
  progress: number | null;
  createdAt: number;
  runAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  payload: CappedText;
  /** The error that ended or last interrupted it: the latest first, as the failed tab shows it. */
  lastError: ErrorView | null;
}

export interface TimelineEntry {
  at: number;
  what: string;
}

export interface JobDetail extends Omit<JobSummary, 'lastError'> {
  stalls: number;
  result: CappedText | null;
  /** Latest first. */
  errors: ErrorView[];
  timeline: TimelineEntry[];
}

export function cap(text: string, chars: number): CappedText {
  return text.length <= chars ? { text, length: text.length, truncated: false } : { text: text.slice(0, chars), length: text.length, truncated: true };
}

function errorView(error: JobError, withStack: boolean): ErrorView {
  return {
    attempt: error.attempt,
    name: error.name,
    message: cap(error.message, MESSAGE_CHARS).text,
    stack: withStack && error.stack !== undefined ? cap(error.stack, STACK_CHARS).text : null,
    at: error.at.getTime(),
  };
}

const time = (date: Date | undefined): number | null => (date === undefined ? null : date.getTime());

function common(job: JobRecord, payloadChars: number, pretty: boolean): Omit<JobSummary, 'lastError'> {
  return {
    id: job.id,
    name: job.name,
    queue: job.queue,
    state: job.state,
    key: job.key ?? null,
    group: job.group ?? null,
    priority: job.priority,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    progress: job.progress ?? null,
    createdAt: job.createdAt.getTime(),
    runAt: job.runAt.getTime(),
    startedAt: time(job.startedAt),
    finishedAt: time(job.finishedAt),
    payload: cap(JSON.stringify(job.payload, null, pretty ? 2 : undefined), payloadChars),
  };
}

export function toSummary(job: JobRecord): JobSummary {
  const last = job.errors.at(-1);
  return { ...common(job, PREVIEW_CHARS, false), lastError: last === undefined ? null : errorView(last, false) };
}

export function toDetail(job: JobRecord): JobDetail {
  // By time, and within one millisecond in the order things happen: a start before its failure, the end last.
  const entries: (TimelineEntry & { rank: number })[] = [{ at: job.createdAt.getTime(), what: 'enqueued', rank: -2 }];
  if (job.runAt.getTime() > job.createdAt.getTime()) entries.push({ at: job.runAt.getTime(), what: 'due', rank: -1 });
  for (const error of job.errors) {
    const what = error.name === 'CancelledError' ? 'cancelled' : error.attempt > 0 ? `attempt ${error.attempt} failed: ${error.name}` : error.name;
    entries.push({ at: error.at.getTime(), what, rank: error.attempt * 2 + 1 });
  }
  if (job.startedAt !== undefined) entries.push({ at: job.startedAt.getTime(), what: `attempt ${job.attempts} started`, rank: job.attempts * 2 });
  if (job.finishedAt !== undefined) entries.push({ at: job.finishedAt.getTime(), what: job.state, rank: Infinity });
  const timeline = entries.toSorted((a, b) => a.at - b.at || a.rank - b.rank).map(({ at, what }) => ({ at, what }));
  return {
    ...common(job, DETAIL_CHARS, true),
    stalls: job.stalls,
    result: job.result === undefined ? null : cap(JSON.stringify(job.result, null, 2) ?? 'null', DETAIL_CHARS),
    errors: job.errors.map((error) => errorView(error, true)).toReversed(),
    timeline,
  };
}

export interface ScheduleView {
  id: string;
  cron: string;
  tz: string;
  name: string;
  queue: string;
  payload: CappedText;
  overlap: 'skip' | 'allow';
  misfire: 'skip' | 'once';
  source: 'decorator' | 'call';
  nextRunAt: number | null;
  lastJobId: string | null;
  updatedAt: number;
}

/** A recurring schedule as `BackgroundJobs.schedules()` has it, its payload cut to a list row's size. */
export function toScheduleView(schedule: ScheduleRecord): ScheduleView {
  return {
    id: schedule.id,
    cron: schedule.cron,
    tz: schedule.tz,
    name: schedule.name,
    queue: schedule.queue,
    payload: cap(JSON.stringify(schedule.payload), PREVIEW_CHARS),
    overlap: schedule.overlap,
    misfire: schedule.misfire,
    source: schedule.source,
    nextRunAt: schedule.nextRunAt?.getTime() ?? null,
    lastJobId: schedule.lastJobId ?? null,
    updatedAt: schedule.updatedAt.getTime(),
  };
}
