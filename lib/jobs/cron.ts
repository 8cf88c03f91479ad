import type { Cron } from 'croner';
import { importModule } from '../import-module.js';
import { describe } from '../validation.js';

/** The time zone a schedule's cron is read in when none is given: the same in every process, wherever it runs. */
export const DEFAULT_TIME_ZONE = 'UTC';

/** The times of one cron expression in one time zone. */
export interface CronTimes {
  /** The first time strictly after `after` (epoch ms), or undefined when the cron has no later time. */
  next(after: number): number | undefined;
}

export type CronClass = typeof Cron;

let loading: Promise<CronClass> | undefined;

/** croner, imported the first time a schedule needs it (an app without schedules never loads it). */
export function loadCron(): Promise<CronClass> {
  loading ??= importModule('croner').then((module: { Cron?: CronClass; default?: { Cron?: CronClass } }) => {
    const found = module.Cron ?? module.default?.Cron;
    if (found === undefined) throw new Error('croner did not export Cron: is the croner package intact?');
    return found;
  });
  return loading;
}

/** `tz` if this runtime knows it as an IANA time zone; a RangeError naming `path` otherwise. */
export function checkTimeZone(path: string, tz: string): string {
  try {
    // The constructor is the check: it throws a RangeError for a zone the runtime does not know.
    Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions();
  } catch {
    throw new RangeError(`${path} must be an IANA time zone such as 'Europe/Paris' or 'UTC', got ${describe(tz)}`);
  }
  return tz;
}

/**
 * The times of `cron` (5 fields, 6 with seconds first, 7 with a year last, or a nickname such as `@daily`) in the
 * time zone `tz`, which `checkTimeZone` has accepted. A malformed expression is a TypeError and a value out of
 * range a RangeError, as croner words them, after `path`; so is one that names a single date, or never fires.
 * Daylight saving time is croner's (Vixie cron's): a fixed time in the spring gap runs at the gap's end, once; a
 * fixed time repeated in the autumn runs once; an interval runs through both.
 */
export function compileCron(Cron: CronClass, path: string, cron: string, tz: string): CronTimes {
  let parsed: Cron;
  try {
    parsed = new Cron(cron, { timezone: tz, paused: true });
  } catch (error) {
    const kind = error instanceof RangeError ? RangeError : TypeError;
    throw new kind(`${path} ${describe(cron)} is not a valid cron expression: ${(error as Error).message}`);
  }
  if (parsed.getOnce() !== null) {
    throw new TypeError(`${path} ${describe(cron)} is a date, not a cron expression; enqueue a one-off job with runAt instead`);
  }
  const times: CronTimes = {
    next(after) {
      const at = parsed.nextRun(new Date(after));
      return at === null ? undefined : at.getTime();
    },
  };
  if (times.next(Date.now()) === undefined) throw new RangeError(`${path} ${describe(cron)} never fires: no time to come matches it`);
  return times;
}
