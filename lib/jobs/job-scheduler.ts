import type { Logger } from '@nestjs/common';
import { count, describeError, errorStack } from '../log-text.js';
import { MAX_TIMER_DELAY, checkObject, checkOneOf, checkString, describe } from '../validation.js';
import { DEFAULT_TIME_ZONE, checkTimeZone, compileCron, loadCron, type CronClass, type CronTimes } from './cron.js';
import type { JobHandlerEntry } from './job-handler.explorer.js';
import { serializePayload } from './job-payload.js';
import { recurringMetadataOf } from './recurring.decorator.js';
import { planTicks, type ScheduleDecision } from './schedule-plan.js';
import type { FiredSchedule, InsertResult, JobStore, NewSchedule, StoredSchedule } from './stores/job-store.js';

const RECURRING_KEYS = ['id', 'tz', 'payload', 'overlap', 'misfire'] as const;
/** Longest schedule id: an id names a schedule in logs and a dashboard, and keys a store row. */
export const MAX_SCHEDULE_ID_LENGTH = 200;
/** Looks for schedules that other processes added at most this often (each process times its known ones itself). */
const MIN_POLL_MS = 1_000;
/** After the store failed to fire, try again this much later. */
const RETRY_MS = 1_000;

/** What the scheduler tells the jobs layer about the jobs its ticks inserted. */
export interface SchedulerEvents {
  inserted(results: readonly InsertResult[]): void;
}

/** A `@Recurring` of this process's code, checked. */
interface Declaration {
  className: string;
  schedule: Omit<NewSchedule, 'nextRunAt'>;
  times: CronTimes;
}

/** The timing options every schedule has, checked. */
export interface Timing {
  tz: string;
  overlap: 'allow' | 'skip';
  misfire: 'skip' | 'once';
}

/** Checks `tz`, `overlap` and `misfire` of an options object at `path`, and fills their defaults. */
export function resolveTiming(path: string, o: Record<string, unknown>): Timing {
  return {
    tz: o.tz === undefined ? DEFAULT_TIME_ZONE : checkTimeZone(`${path}.tz`, checkString(`${path}.tz`, o.tz)),
    overlap: o.overlap === undefined ? 'allow' : checkOneOf(`${path}.overlap`, o.overlap, ['allow', 'skip']),
    misfire: o.misfire === undefined ? 'once' : checkOneOf(`${path}.misfire`, o.misfire, ['once', 'skip']),
  };
}

/** `id` if it is a usable schedule id; a TypeError or RangeError naming `path` otherwise. */
export function checkScheduleId(path: string, id: unknown): string {
  const checked = checkString(path, id);
  if (checked.length > MAX_SCHEDULE_ID_LENGTH) throw new RangeError(`${path} must be at most ${MAX_SCHEDULE_ID_LENGTH} characters, got ${checked.length}`);
  return checked;
}

/**
 * Recurring schedules on the store's side: checks the `@Recurring` declarations at bootstrap and keeps the store
 * in step with them, then fires what is due. A timer is armed at the earliest next tick of all schedules (every
 * process arms one; the store lets one of them insert each tick), and a slow poll finds schedules that other
 * processes added. croner is loaded only once a schedule exists.
 */
export class JobScheduler {
  private Cron: CronClass | undefined;
  /** Compiled crons by time zone and expression (a stored one this croner cannot read is kept as its Error). */
  private readonly compiled = new Map<string, CronTimes | Error>();
  private readonly declared = new Map<string, Declaration>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private poll: NodeJS.Timeout | undefined;
  private firing: Promise<void> | undefined;
  private again = false;
  private stopped = true;

  constructor(
    private readonly store: JobStore,
    private readonly events: SchedulerEvents,
    private readonly logger: Logger,
  ) {}

  /** The `@Recurring` class that declares schedule `id` in this process, if any. */
  declaredBy(id: string): string | undefined {
    return this.declared.get(id)?.className;
  }

  /** Throws unless the store keeps schedules (`what` names the caller). */
  checkSupported(what: string): void {
    if (typeof this.store.fireDue !== 'function') {
      throw new Error(`${what}: the job store ${this.store.description} does not keep schedules (use memoryStore() or sqliteStore())`);
    }
  }

  /** The times of `cron` in `tz`, loading croner first if need be; errors name `path`. */
  async compile(path: string, cron: string, tz: string): Promise<CronTimes> {
    this.Cron ??= await loadCron();
    return compileCron(this.Cron, path, cron, tz);
  }

  /**
   * Bootstrap, before the store opens: checks every `@Recurring` of the `@Job` classes (an error names the class)
   * and that no two declare one id. Writes nothing.
   */
  async check(handlers: Map<string, JobHandlerEntry>): Promise<void> {
    this.declared.clear();
    for (const handler of handlers.values()) {
      for (const { cron, options } of recurringMetadataOf(handler.type)) {
        const where = `@Recurring on ${handler.type.name}`;
        const expression = checkString(`${where}: the cron expression`, cron);
        const path = `@Recurring(${describe(expression)}) on ${handler.type.name} options`;
        this.checkSupported(where);
        const o = options === undefined ? {} : checkObject(path, options, RECURRING_KEYS);
        const id = o.id === undefined ? handler.name : checkScheduleId(`${path}.id`, o.id);
        const timing = resolveTiming(path, o);
        const payload = serializePayload(`${path}.payload`, o.payload === undefined ? {} : o.payload);
        const times = await this.compile(`${where}: the cron expression`, expression, timing.tz);
        const other = this.declared.get(id);
        if (other !== undefined) {
          const hint = o.id === undefined ? `; a class with several @Recurring gives each an id` : '';
          throw new Error(`@Recurring on ${other.className} and ${handler.type.name} both declare the schedule "${id}"${hint}`);
        }
        this.declared.set(id, {
          className: handler.type.name,
          times,
          schedule: {
            id,
            cron: expression,
            ...timing,
            source: 'decorator',
            name: handler.name,
            queue: handler.queue.name,
            payload,
            priority: handler.priority,
            maxAttempts: handler.retry?.attempts ?? 1,
            options: null,
          },
        });
      }
    }
  }

  /**
   * Bootstrap, once the store is open: stores every declared schedule (one whose timing is unchanged keeps its
   * next tick, so that a restart neither skips nor repeats one), and removes the `@Recurring` schedules of the
   * jobs this process runs that its code no longer declares.
   */
  async sync(handlers: Map<string, JobHandlerEntry>): Promise<void> {
    if (typeof this.store.fireDue !== 'function') return;
    const now = Date.now();
    const lines: string[] = [];
    for (const { schedule, times } of this.declared.values()) {
      const stored = await this.store.upsertSchedule!({ ...schedule, nextRunAt: times.next(now) ?? null }, now);
      lines.push(`${stored.id} (${stored.cron}, ${stored.tz}; next ${stored.nextRunAt === null ? 'never' : new Date(stored.nextRunAt).toISOString()})`);
    }
    if (lines.length > 0) this.logger.log(`Recurring schedules of this process: ${lines.join(', ')}`);
    for (const row of await this.store.listSchedules!()) {
      if (row.source !== 'decorator' || this.declared.has(row.id) || !handlers.has(row.name)) continue;
      await this.store.removeSchedule!(row.id);
      this.logger.log(`Removed the schedule "${row.id}" of job "${row.name}" from ${this.store.description}: no @Recurring of this process declares it any more`);
    }
  }

  /** Stores a schedule made by `BackgroundJobs.schedule()` and times its next tick. */
  async put(schedule: NewSchedule): Promise<StoredSchedule> {
    const now = Date.now();
    const stored = await this.store.upsertSchedule!(schedule, now);
    if (stored.nextRunAt !== null && stored.nextRunAt < this.timerAt) this.arm(stored.nextRunAt);
    return stored;
  }

  /** Begins firing: what is due now (ticks missed while no process ran), then at each next tick. */
  start(): void {
    if (typeof this.store.fireDue !== 'function' || !this.stopped) return;
    this.stopped = false;
    void this.fire();
    const { pollMs } = this.store.settings;
    if (pollMs !== undefined) {
      this.poll = setInterval(() => void this.fire(), Math.max(pollMs, MIN_POLL_MS));
      this.poll.unref();
    }
  }

  /** No tick fires from now on (shutdown has begun; the next start, or another process, fires them). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.poll);
    this.timer = undefined;
    this.poll = undefined;
    this.timerAt = Infinity;
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  /** One firing at a time; a call while one runs makes it run once more after. */
  private fire(): Promise<void> {
    if (this.firing !== undefined) {
      this.again = true;
      return this.firing;
    }
    this.firing = (async () => {
      do {
        this.again = false;
        await this.fireOnce();
      } while (this.again && !this.stopped);
    })().finally(() => (this.firing = undefined));
    return this.firing;
  }

  private async fireOnce(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.Cron === undefined) {
        // No schedule seen yet: croner is loaded only once there is one (another process may add one later).
        if ((await this.store.listSchedules!()).length === 0) return;
        this.Cron = await loadCron();
      }
      const result = await this.store.fireDue!(Date.now(), (schedule, now, lastJobActive) => planTicks(schedule, now, lastJobActive, this.timesOf(schedule)));
      for (const fired of result.fired) this.report(fired);
      this.arm(result.nextAt);
    } catch (error) {
      this.logger.error(`Job store ${this.store.description} could not fire the due schedules; trying again in ${RETRY_MS} ms: ${describeError(error)}`, errorStack(error));
      this.arm(Date.now() + RETRY_MS);
    }
  }

  private timesOf(schedule: StoredSchedule): CronTimes | Error {
    const key = `${schedule.tz}\u0000${schedule.cron}`;
    let times = this.compiled.get(key);
    if (times === undefined) {
      try {
        times = compileCron(this.Cron!, `Schedule "${schedule.id}":`, schedule.cron, checkTimeZone(`Schedule "${schedule.id}" tz`, schedule.tz));
      } catch (error) {
        times = error as Error;
      }
      this.compiled.set(key, times);
    }
    return times;
  }

  /** Logs what a step decided, now that the store has applied it, and hands its jobs to the jobs layer. */
  private report({ schedule, plan, jobs }: FiredSchedule): void {
    const decision = plan as ScheduleDecision;
    const s = `Schedule "${schedule.id}" (${schedule.cron}, ${schedule.tz})`;
    if (decision.error !== undefined) {
      this.logger.error(`${s} cannot be read by this process and is parked with no next tick until it is declared or scheduled again: ${describeError(decision.error)}`);
    } else if (decision.missed > 0) {
      const missed = decision.missed >= 1_000 ? '1000 or more ticks' : count(decision.missed, 'tick');
      const next = schedule.nextRunAt === null ? 'none' : new Date(schedule.nextRunAt).toISOString();
      const outcome =
        schedule.misfire === 'skip'
          ? "misfire 'skip': none of them runs"
          : decision.overlapped > 0
            ? `misfire 'once', but its last job ${schedule.lastJobId} is still active (overlap 'skip'): none runs`
            : `misfire 'once': one job ${jobs[0]?.job.id} runs for them now`;
      this.logger.warn(`${s} missed ${missed} while no process ran; ${outcome}; next tick ${next}`);
    } else if (decision.overlapped > 0) {
      this.logger.debug(`${s}: ${count(decision.overlapped, 'tick')} skipped, its last job ${schedule.lastJobId} is still active (overlap 'skip')`);
    }
    if (jobs.length > 0) this.events.inserted(jobs);
  }

  private arm(at: number | undefined): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    if (at === undefined || this.stopped) return;
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        void this.fire();
      },
      Math.min(Math.max(at - Date.now(), 0), MAX_TIMER_DELAY),
    );
    this.timer.unref();
  }
}
