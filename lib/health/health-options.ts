import { checkNumber, checkObject, checkString, describe } from '../validation.js';

/** Options of `BackgroundWorkHealthIndicator.isHealthy(key, options)`. Every field is checked at the call. */
export interface BackgroundWorkHealthOptions {
  /** The queues to look at. Default: every queue. */
  queues?: string[];
  /**
   * Down when more items wait on a queue than this: closures pending plus due jobs pending (scheduled ones are not
   * waiting yet). One figure for every queue, or figures by queue name (a queue not named has no limit).
   */
  maxBacklog?: number | Record<string, number>;
  /** Down when a queue's oldest pending job has been due for longer than this many ms. A figure, or figures by queue. */
  maxPendingAge?: number | Record<string, number>;
  /** Down when the job store takes longer than this many ms to answer. Default 1_000. */
  timeout?: number;
}

export interface ResolvedHealthOptions {
  queues: string[] | undefined;
  maxBacklog: (queue: string) => number;
  maxPendingAge: (queue: string) => number;
  timeout: number;
}

export const DEFAULT_HEALTH_TIMEOUT = 1_000;
const KEYS = ['queues', 'maxBacklog', 'maxPendingAge', 'timeout'] as const;

/** Validates `isHealthy`'s options against the queues that exist; a mistake is a TypeError or RangeError naming it. */
export function resolveHealthOptions(path: string, value: unknown, known: readonly string[]): ResolvedHealthOptions {
  const o = value === undefined ? {} : checkObject(path, value, KEYS);
  const checkQueue = (where: string, name: unknown): string => {
    checkString(where, name);
    if (!known.includes(name as string)) throw new RangeError(`${where}: no queue named "${name as string}"; the queues are ${known.join(', ')}`);
    return name as string;
  };
  let queues: string[] | undefined;
  if (o.queues !== undefined) {
    if (!Array.isArray(o.queues)) throw new TypeError(`${path}.queues must be an array of queue names, got ${describe(o.queues)}`);
    queues = o.queues.map((name, i) => checkQueue(`${path}.queues[${i}]`, name));
  }
  const limit = (key: 'maxBacklog' | 'maxPendingAge'): ((queue: string) => number) => {
    const given = o[key];
    const rule = { min: 0, infinity: true };
    if (given === undefined) return () => Infinity;
    if (typeof given === 'number') {
      const figure = checkNumber(`${path}.${key}`, given, rule);
      return () => figure;
    }
    if (given === null || typeof given !== 'object' || Array.isArray(given)) {
      throw new TypeError(`${path}.${key} must be a number, or numbers by queue name, got ${describe(given)}`);
    }
    const byQueue = checkObject(`${path}.${key}`, given);
    const figures = new Map<string, number>();
    for (const [name, figure] of Object.entries(byQueue)) {
      checkQueue(`${path}.${key} key`, name);
      figures.set(name, checkNumber(`${path}.${key}.${name}`, figure, rule));
    }
    return (queue) => figures.get(queue) ?? Infinity;
  };
  return {
    queues,
    maxBacklog: limit('maxBacklog'),
    maxPendingAge: limit('maxPendingAge'),
    timeout: o.timeout === undefined ? DEFAULT_HEALTH_TIMEOUT : checkNumber(`${path}.timeout`, o.timeout, { min: 1, max: 60_000 }),
  };
}
