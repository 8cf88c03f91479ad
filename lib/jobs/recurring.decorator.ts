import type { Type } from '@nestjs/common';
import { RECURRING_METADATA } from '../background-work.constants.js';

/** Options of `@Recurring(cron, options)`. */
export interface RecurringOptions<P = unknown> {
  /** The schedule's id in the store. Default: the `@Job`'s name; a class with several `@Recurring` gives each its own. */
  id?: string;
  /** The IANA time zone the cron is read in (`'Europe/Paris'`). Default `'UTC'`. */
  tz?: string;
  /** What each tick's job gets as its payload (it must survive JSON unchanged). Default `{}`. */
  payload?: P;
  /** `'skip'`: a tick inserts nothing while the schedule's last job is still scheduled, pending or running. Default `'allow'`. */
  overlap?: 'skip' | 'allow';
  /** Ticks missed while no process ran: `'once'` (default) inserts one job for all of them, `'skip'` none. */
  misfire?: 'skip' | 'once';
}

/** @internal what the decorator records; checked at bootstrap, where the class can be named and croner is loaded. */
export interface RecurringMetadata {
  cron: unknown;
  options: unknown;
}

/** @internal the `@Recurring` declarations of a class, in source order. */
export function recurringMetadataOf(type: Type): RecurringMetadata[] {
  return (Reflect.getOwnMetadata(RECURRING_METADATA, type) as RecurringMetadata[] | undefined) ?? [];
}

/**
 * Runs the `@Job` class it decorates on a schedule: at each time `cron` names (5 fields, 6 with seconds first, 7
 * with a year last, or `@hourly`, `@daily`...), one job is inserted in the store. On a durable store each tick
 * fires once across every process and every restart. Several `@Recurring` on one class make several schedules
 * (give each an `id`). The schedule is stored at bootstrap and kept in step with the code: a changed cron or payload
 * updates it, and one removed from a class whose `@Job` this process runs is removed from the store.
 */
export function Recurring<P = unknown>(cron: string, options?: RecurringOptions<P>): ClassDecorator {
  return (target) => {
    // Decorators apply bottom-up: prepend, so that the list reads in source order.
    const list = recurringMetadataOf(target as unknown as Type);
    Reflect.defineMetadata(RECURRING_METADATA, [{ cron, options } satisfies RecurringMetadata, ...list], target);
  };
}
