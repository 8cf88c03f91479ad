import { Logger } from '@nestjs/common';
import { LOG_CONTEXT } from '../background-work.constants.js';
import { describeError, errorStack } from '../log-text.js';
import { MAX_TIMER_DELAY, checkBoolean, checkNumber, checkObject } from '../validation.js';
import { BackgroundService } from './background-service.js';

export interface PeriodicServiceOptions {
  /** Milliseconds from one tick to the next: an integer from 1 to 2_147_483_647. */
  every: number;
  /** Whether the first tick runs at start (`true`) or one period after it (`false`, the default, as .NET's PeriodicTimer). */
  immediately?: boolean;
  /**
   * Failing ticks in a row after which the service gives up: `execute()` fails with the last error, the service is
   * marked `failed` and the module's `onServiceError` applies. Default `Infinity`: a failing tick is logged and
   * counted, and the next one runs on time.
   */
  maxConsecutiveFailures?: number;
}

export interface PeriodicServiceStats {
  /** Ticks that have ended, failed or not. */
  ticks: number;
  /** Ticks that threw. */
  failures: number;
  /** Failures since the last tick that succeeded. */
  consecutiveFailures: number;
  /** Ticks that did not run because a tick outlived its period (they coalesce into one that runs at once). */
  skipped: number;
  /** Whether a tick is running now. */
  running: boolean;
}

const KEYS = ['every', 'immediately', 'maxConsecutiveFailures'] as const;

/** Resolves true once `ms` have passed, false as soon as `signal` aborts. */
function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A `BackgroundService` that runs `tick(signal)` every `every` ms (.NET's PeriodicTimer loop in a BackgroundService):
 * ticks never overlap, and stay on the period's grid; ticks that a slow one outlived coalesce into one that runs at
 * once. A failing tick is logged with the service's name and counted, and the service goes on (unless
 * `maxConsecutiveFailures` says otherwise). At shutdown no new tick starts; a running one is waited for, and its
 * signal aborts only when the shutdown deadline passes.
 *
 * ```ts
 * @HostedService()
 * class CacheRefresher extends PeriodicService {
 *   constructor(private readonly cache: Cache) {
 *     super({ every: 60_000, immediately: true });
 *   }
 *   protected async tick(signal: AbortSignal) {
 *     await this.cache.refresh(signal);
 *   }
 * }
 * ```
 */
export abstract class PeriodicService extends BackgroundService {
  private readonly periodLogger = new Logger(LOG_CONTEXT);
  private readonly every: number;
  private readonly immediately: boolean;
  private readonly maxConsecutiveFailures: number;
  private readonly counts = { ticks: 0, failures: 0, consecutiveFailures: 0, skipped: 0 };
  /** The running tick's signal: aborted at the shutdown deadline, not before. */
  private tickController: AbortController | undefined;

  constructor(options: PeriodicServiceOptions) {
    super();
    const path = `PeriodicService ${new.target.name} options`;
    const o = checkObject(path, options, KEYS);
    this.every = checkNumber(`${path}.every`, o.every, { min: 1, max: MAX_TIMER_DELAY });
    this.immediately = o.immediately === undefined ? false : checkBoolean(`${path}.immediately`, o.immediately);
    this.maxConsecutiveFailures =
      o.maxConsecutiveFailures === undefined ? Infinity : checkNumber(`${path}.maxConsecutiveFailures`, o.maxConsecutiveFailures, { min: 1, infinity: true });
  }

  /** The work of one period. Never called while the previous call runs; `signal` aborts at the shutdown deadline. */
  protected abstract tick(signal: AbortSignal): Promise<void> | void;

  /** What the ticks have done so far. */
  stats(): PeriodicServiceStats {
    return { ...this.counts, running: this.tickController !== undefined };
  }

  /** The tick loop (do not override: implement `tick`). `stopping` aborts when the application begins to stop. */
  protected async execute(stopping: AbortSignal): Promise<void> {
    const every = this.every;
    let next = performance.now() + (this.immediately ? 0 : every);
    while (!stopping.aborted) {
      const delay = next - performance.now();
      if (delay > 0 && !(await wait(delay, stopping))) return;
      await this.runTick();
      if (stopping.aborted) return;
      next += every;
      const behind = performance.now() - next;
      if (behind >= 0) {
        // The tick outlived one or more periods: run once at once, then back on the grid (.NET's PeriodicTimer).
        const passed = Math.floor(behind / every) + 1;
        this.counts.skipped += passed - 1;
        next += (passed - 1) * every;
      }
    }
  }

  /** Stops ticking: a running tick is waited for, and its signal aborts when `deadline` does. */
  override async stop(deadline: AbortSignal): Promise<void> {
    const onDeadline = (): void => this.tickController?.abort(deadline.reason);
    if (deadline.aborted) onDeadline();
    deadline.addEventListener('abort', onDeadline, { once: true });
    try {
      await super.stop(deadline);
    } finally {
      deadline.removeEventListener('abort', onDeadline);
    }
  }

  private async runTick(): Promise<void> {
    const controller = new AbortController();
    this.tickController = controller;
    try {
      await this.tick(controller.signal);
      this.counts.consecutiveFailures = 0;
    } catch (error) {
      // A tick cut off at the shutdown deadline has not failed.
      if (controller.signal.aborted) return;
      this.counts.failures++;
      const inARow = ++this.counts.consecutiveFailures;
      const name = this.constructor.name;
      this.periodLogger.error(`Periodic service ${name}: a tick failed (${inARow} in a row): ${describeError(error)}`, errorStack(error));
      if (inARow >= this.maxConsecutiveFailures) {
        throw new Error(`Periodic service ${name} gave up after ${inARow} failing ticks in a row (maxConsecutiveFailures)`, { cause: error });
      }
    } finally {
      this.counts.ticks++;
      this.tickController = undefined;
    }
  }
}
