import { Logger } from '@nestjs/common';
import { LOG_CONTEXT, SHUTDOWN_GRACE_MS } from '../background-work.constants.js';
import { describeError, errorStack } from '../log-text.js';
import type { ServiceEntry } from './background-host.js';

/**
 * Why `app.init()` failed: a hosted service's `starting()`, `start()` or `started()` threw, or start-up outlived
 * `startupTimeout` (then `service` names every service still starting, comma-separated).
 */
export class HostedServiceStartError extends Error {
  override readonly name = 'HostedServiceStartError';
  constructor(
    readonly service: string,
    cause: unknown,
  ) {
    super(`Hosted service${service.includes(', ') ? 's' : ''} ${service} failed to start: ${describeError(cause)}`, { cause });
  }
}

/** What a start that was given up rejects with inside the runner: its outcome belongs to whoever gave it up. */
const ABANDONED = Symbol('abandoned');

type Hook = 'starting' | 'started' | 'stopping' | 'stopped';

/** The outcome of one service's `stop()` under the shutdown deadline. */
export type StopOutcome = 'stopped' | 'failed' | 'abandoned';

/** Resolves `true` when `task` settles first, `false` when `signal` aborts first. */
export function settlesBefore(task: Promise<unknown>, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
    const done = (): void => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    };
    task.then(done, done);
  });
}

/** A signal that aborts `ms` after `deadline` does; `dispose` clears its timer. */
function graceAfter(deadline: AbortSignal, ms: number): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const start = (): void => {
    timer = setTimeout(() => controller.abort(deadline.reason), ms);
  };
  if (deadline.aborted) start();
  else deadline.addEventListener('abort', start, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      deadline.removeEventListener('abort', start);
    },
  };
}

/** Calls a method that may throw synchronously or reject, as one promise. */
function invoke(call: () => unknown): Promise<unknown> {
  try {
    return Promise.resolve(call());
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Runs the start and stop phases over the hosted services, in order or all at once. Start phases fail fast;
 * stop phases never do: every service gets its stop, and a stop that throws or outlives the deadline is logged.
 */
export class ServiceRunner {
  private readonly logger = new Logger(LOG_CONTEXT);
  private abandoned = false;

  constructor(
    private readonly startConcurrently: boolean,
    private readonly stopConcurrently: boolean,
  ) {}

  /**
   * `starting()` for all, `start(signal)` for all, then `started()` for all. On a failure, the services whose
   * `start()` completed are stopped in reverse order before the error is thrown. Once `abandon()` has been called,
   * no further step begins, a failure is left to whoever abandoned the start, and a `start()` that completes
   * anyway is stopped at once (nobody else would stop it).
   */
  async start(entries: ServiceEntry[], signal: AbortSignal, rollbackDeadline: () => AbortSignal): Promise<void> {
    try {
      await this.startPhase(entries, 'starting()', (entry) => this.callHook(entry, 'starting'));
      await this.startPhase(entries, 'start()', async (entry) => {
        await invoke(() => entry.instance.start(signal));
        if (this.abandoned) return this.stopLateStart(entry, rollbackDeadline());
        entry.started = true;
        entry.state = 'running';
      });
      await this.startPhase(entries, 'started()', (entry) => this.callHook(entry, 'started'));
    } catch (failure) {
      if (failure === ABANDONED || this.abandoned) return;
      const { entry, error } = failure as { entry: ServiceEntry; error: unknown };
      entry.state = 'failed';
      entry.error = error;
      const started = entries.filter((e) => e.started).length;
      if (started > 0) {
        this.logger.warn(`Hosted service ${entry.name} failed to start; stopping the ${started} already started`);
        await this.rollback(entries, rollbackDeadline());
      }
      throw new HostedServiceStartError(entry.name, error);
    }
  }

  /** Stops no more services from starting: start-up has been given up (a start that outlived its time). */
  abandon(): void {
    this.abandoned = true;
  }

  /** `stopping()`, `stop()` and `stopped()` for the services whose `start()` completed, in reverse order. */
  async rollback(entries: ServiceEntry[], deadline: AbortSignal): Promise<void> {
    const started = entries.filter((e) => e.started);
    if (started.length === 0) return;
    const stopOrder = started.toReversed();
    await this.stopping(stopOrder, deadline);
    await this.stop(stopOrder, deadline);
    await this.afterStop(stopOrder, deadline);
    for (const e of started) e.started = false;
  }

  /** `stopping()` for all; `entries` in stop order. */
  async stopping(entries: ServiceEntry[], deadline: AbortSignal): Promise<void> {
    await this.stopPhase(entries, deadline, 'stopping');
  }

  /** `stop(deadline)` for all; `entries` in stop order. */
  async stop(entries: ServiceEntry[], deadline: AbortSignal): Promise<Map<ServiceEntry, StopOutcome>> {
    const outcomes = new Map<ServiceEntry, StopOutcome>();
    // A stop() that honours its signal ends just after the deadline: it gets the grace that work items get.
    const { signal: abandonAt, dispose } = graceAfter(deadline, SHUTDOWN_GRACE_MS);
    try {
      await this.stopPhase(entries, deadline, async (entry) => {
        if (entry.state !== 'failed') entry.state = 'stopping';
        const ok = await this.settleStop(entry, deadline, abandonAt);
        outcomes.set(entry, ok);
        if (entry.state !== 'failed') entry.state = ok === 'failed' ? 'failed' : 'stopped';
      });
    } finally {
      dispose();
    }
    return outcomes;
  }

  /** `stopped()` for all, once the queues have drained. */
  async afterStop(entries: ServiceEntry[], deadline: AbortSignal): Promise<void> {
    await this.stopPhase(entries, deadline, 'stopped');
  }

  private async settleStop(entry: ServiceEntry, deadline: AbortSignal, abandonAt: AbortSignal): Promise<StopOutcome> {
    const stopping = invoke(() => entry.instance.stop(deadline));
    let error: unknown;
    const failedFlag = stopping.then(
      () => false,
      (e: unknown) => {
        error = e;
        return true;
      },
    );
    if (!(await settlesBefore(failedFlag, abandonAt))) {
      this.logger.error(`Hosted service ${entry.name} did not stop by the shutdown deadline (and ${SHUTDOWN_GRACE_MS} ms of grace); its stop() was abandoned`);
      return 'abandoned';
    }
    if (await failedFlag) {
      entry.error ??= error;
      this.logger.error(`Hosted service ${entry.name} failed to stop: ${describeError(error)}`, errorStack(error));
      return 'failed';
    }
    return 'stopped';
  }

  private async callHook(entry: ServiceEntry, hook: Hook): Promise<void> {
    const method = entry.instance[hook];
    if (typeof method === 'function') await method.call(entry.instance);
  }

  /** A service whose `start()` completed after start-up was given up: it was not rolled back, so it is stopped now. */
  private async stopLateStart(entry: ServiceEntry, deadline: AbortSignal): Promise<void> {
    // Its state stays 'failed': it did not start in time.
    this.logger.warn(`Hosted service ${entry.name} finished starting after start-up was given up; stopping it`);
    await this.settleStop(entry, deadline, deadline);
  }

  private async startPhase(entries: ServiceEntry[], name: NonNullable<ServiceEntry['step']>, step: (entry: ServiceEntry) => Promise<void>): Promise<void> {
    const run = (entry: ServiceEntry): Promise<void> => {
      if (this.abandoned) return Promise.reject(ABANDONED);
      entry.step = name;
      return invoke(() => step(entry)).then(
        () => {
          entry.step = undefined;
        },
        (error: unknown) => {
          entry.step = undefined;
          return Promise.reject(error === ABANDONED ? error : { entry, error });
        },
      );
    };
    if (this.startConcurrently) {
      const results = await Promise.allSettled(entries.map(run));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      return;
    }
    for (const entry of entries) await run(entry);
  }

  /**
   * Runs one stop step per service: a lifecycle hook (services without it are passed over) or `stop()` itself, which
   * handles the deadline on its own. A hook that throws is logged; one that outlives the deadline is left behind, and
   * once the deadline has passed the remaining hooks are skipped with a warning.
   */
  private async stopPhase(entries: ServiceEntry[], deadline: AbortSignal, phase: Hook | ((entry: ServiceEntry) => Promise<void>)): Promise<void> {
    const run = async (entry: ServiceEntry): Promise<void> => {
      if (typeof phase === 'function') return phase(entry);
      if (typeof entry.instance[phase] !== 'function') return;
      if (deadline.aborted) {
        this.logger.warn(`Hosted service ${entry.name}'s ${phase}() was skipped: the shutdown deadline has passed`);
        return;
      }
      const task = this.callHook(entry, phase).catch((error: unknown) => {
        this.logger.error(`Hosted service ${entry.name} failed in ${phase}(): ${describeError(error)}`, errorStack(error));
      });
      if (!(await settlesBefore(task, deadline))) {
        this.logger.error(`Hosted service ${entry.name}'s ${phase}() did not finish before the shutdown deadline`);
      }
    };
    if (this.stopConcurrently) {
      await Promise.all(entries.map(run));
      return;
    }
    for (const entry of entries) await run(entry);
  }
}
