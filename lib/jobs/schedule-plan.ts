import type { CronTimes } from './cron.js';
import { newJobId } from './job-ids.js';
import type { NewJob, SchedulePlan, StoredSchedule } from './stores/job-store.js';

/**
 * How late a tick may fire and still count as on time: a timer a little late, a busy event loop, another
 * process's poll. A tick later than this was missed (no process ran), and the schedule's `misfire` decides.
 */
export const MISFIRE_GRACE_MS = 5_000;
/** Ticks counted at most when telling how many were missed (a long outage of a per-second cron stays cheap). */
const COUNT_LIMIT = 1_000;

/** A plan, and why it is what it is: the scheduler logs it once the store has applied it. */
export interface ScheduleDecision extends SchedulePlan {
  /** Ticks missed while no process ran (at most COUNT_LIMIT); 0 when on time. */
  missed: number;
  /** Ticks skipped because the last job was still active (`overlap: 'skip'`). */
  overlapped: number;
  /** The cron could not be read here: the schedule is parked (no next tick) until declared again. */
  error?: unknown;
}

/**
 * What a due schedule's ticks become at `now` (a pure function, as `JobStore.fireDue` requires):
 * - on time (its next tick at most MISFIRE_GRACE_MS ago): a job per due tick, `runAt` the tick;
 * - missed (older): with `misfire: 'once'` one job now for all of them, with `'skip'` none; either way the
 *   schedule goes on from the first tick after now;
 * - `overlap: 'skip'`: no job while the last one is still active (nor a second one in the same step).
 */
export function planTicks(schedule: StoredSchedule, now: number, lastJobActive: boolean, times: CronTimes | Error): ScheduleDecision {
  if (times instanceof Error) return { jobs: [], nextRunAt: null, missed: 0, overlapped: 0, error: times };
  const job = (runAt: number): NewJob => ({
    id: newJobId(now),
    name: schedule.name,
    queue: schedule.queue,
    payload: schedule.payload,
    key: null,
    priority: schedule.priority,
    maxAttempts: schedule.maxAttempts,
    runAt,
    createdAt: now,
    options: schedule.options,
    group: null,
    trace: null,
  });
  const blocked = (jobs: NewJob[]): boolean => schedule.overlap === 'skip' && (lastJobActive || jobs.length > 0);
  let tick: number | undefined = schedule.nextRunAt!;
  const jobs: NewJob[] = [];
  if (now - tick > MISFIRE_GRACE_MS) {
    let missed = 0;
    for (let t: number | undefined = tick; t !== undefined && t <= now && missed < COUNT_LIMIT; t = times.next(t)) missed++;
    const nextRunAt = times.next(now) ?? null;
    if (schedule.misfire === 'skip') return { jobs, nextRunAt, missed, overlapped: 0 };
    if (blocked(jobs)) return { jobs, nextRunAt, missed, overlapped: 1 };
    return { jobs: [job(now)], nextRunAt, missed, overlapped: 0 };
  }
  let overlapped = 0;
  for (; tick !== undefined && tick <= now; tick = times.next(tick)) {
    if (blocked(jobs)) overlapped++;
    else jobs.push(job(tick));
  }
  return { jobs, nextRunAt: tick ?? null, missed: 0, overlapped };
}
