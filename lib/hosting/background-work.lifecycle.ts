import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { BACKGROUND_WORK_OPTIONS, LOG_CONTEXT, SHUTDOWN_GRACE_MS } from '../background-work.constants.js';
import { count, describeError, describeReason, errorStack } from '../log-text.js';
import { TimeoutError } from '../queue/queue.errors.js';
import type { DrainReport } from '../queue/background-queue.js';
import { QueueRegistry } from '../queue/queue-registry.js';
import type { ResolvedModuleOptions } from '../resolve-module-options.js';
import { WorkerThreads } from '../threads/worker-threads.js';
import { JobRuntime } from '../jobs/job-runtime.js';
import { BackgroundHost, type ServiceEntry } from './background-host.js';
import { BackgroundService, ServiceStoppingError } from './background-service.js';
import { HostedServiceExplorer } from './hosted-service.explorer.js';
import { HostedServiceStartError, ServiceRunner, settlesBefore } from './service-runner.js';
import { ShutdownSignalGuard } from './shutdown-signals.js';

type Phase = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';
const ignore = (): void => {};

/**
 * Ties the hosted services and the queues to Nest's lifecycle: starts the services in `onApplicationBootstrap`, and in
 * `beforeApplicationShutdown` stops them and drains the queues under one deadline.
 */
@Injectable()
export class BackgroundWorkLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(LOG_CONTEXT);
  private readonly runner: ServiceRunner;
  private phase: Phase = 'idle';
  private entries: ServiceEntry[] = [];
  private readonly startAbort = new AbortController();
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly signals = new ShutdownSignalGuard(
    () => (this.phase === 'stopped' ? 'stopped' : this.phase === 'stopping' ? 'stopping' : 'running'),
    () => this.cancelStart(),
  );
  private stopRequested = false;
  /** A `stopApplication()` made during start-up without shutdown hooks: carried out once start-up is over. */
  private stopAfterStart: { reason: unknown } | undefined = undefined;
  /** What `stopApplication()` was asked with, for the first line of the stop. */
  private stopReason: string | undefined = undefined;
  private startAbandoned = false;

  constructor(
    @Inject(BACKGROUND_WORK_OPTIONS) private readonly options: ResolvedModuleOptions,
    private readonly host: BackgroundHost,
    private readonly explorer: HostedServiceExplorer,
    private readonly queues: QueueRegistry,
    private readonly threads: WorkerThreads,
    private readonly jobs: JobRuntime,
  ) {
    this.runner = new ServiceRunner(options.startConcurrently, options.stopConcurrently);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.phase !== 'idle') return;
    this.phase = 'starting';
    // A standalone application context enables its shutdown hooks only once bootstrap is over: look again then.
    if (!this.signals.attach()) setImmediate(() => this.warnWithoutShutdownHooks());
    // From now on stopApplication() acts at once: during start-up it aborts the start signal, as SIGTERM does.
    this.host.handleStops((reason) => this.requestStop(reason));
    const began = performance.now();
    this.entries = this.explorer.explore();
    this.host.register(this.entries);
    // The store first: a service's start() may enqueue jobs, and a store that cannot open fails bootstrap now.
    await this.jobs.open();
    this.starting = this.runner.start(this.entries, this.startAbort.signal, () => AbortSignal.timeout(this.options.shutdownTimeout));
    await this.watchStart(this.starting);
    if (this.phase !== 'starting') return; // shutdown began while starting
    for (const entry of this.entries) {
      if (entry.instance instanceof BackgroundService) this.watch(entry, entry.instance);
    }
    this.phase = 'running';
    this.jobs.startFeeds(); // after the services: a handler may need one of them
    this.host.emit('started');
    if (this.entries.length > 0) {
      const names = this.entries.map((e) => e.name).join(', ');
      this.logger.log(`Started ${count(this.entries.length, 'hosted service')} in ${Math.round(performance.now() - began)} ms: ${names}`);
    }
    const deferred = this.stopAfterStart;
    this.stopAfterStart = undefined;
    if (deferred !== undefined) this.requestStop(deferred.reason);
  }

  private warnWithoutShutdownHooks(): void {
    if (this.signals.attach() || this.phase === 'stopping' || this.phase === 'stopped') return;
    this.logger.warn(
      'No SIGTERM or SIGINT listener is installed: call app.enableShutdownHooks(), or on SIGTERM the process dies without stopping hosted services or draining queued work',
    );
  }

  /** A shutdown signal while services start: abort their start signal (Nest waits for init before it shuts down). */
  private cancelStart(): void {
    if (this.phase === 'starting') this.startAbort.abort(new ServiceStoppingError());
  }

  /**
   * Waits for the start phase, and gives it up (naming the services still starting) when it outlives
   * `startupTimeout`, or `shutdownTimeout` after its signal aborted: a start that ignores its signal can neither
   * hang bootstrap nor shutdown.
   */
  private async watchStart(starting: Promise<void>): Promise<void> {
    const { startupTimeout, shutdownTimeout } = this.options;
    const timers: NodeJS.Timeout[] = [];
    const signal = this.startAbort.signal;
    let onAbort: (() => void) | undefined;
    const end = await Promise.race([
      starting.then(
        () => 'settled' as const,
        () => 'settled' as const,
      ),
      new Promise<'timeout'>((resolve) => {
        if (startupTimeout !== Infinity) timers.push(setTimeout(() => resolve('timeout'), startupTimeout));
      }),
      new Promise<'ignored'>((resolve) => {
        onAbort = () => timers.push(setTimeout(() => resolve('ignored'), shutdownTimeout));
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    for (const timer of timers) clearTimeout(timer);
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    if (end === 'settled') return starting;
    if (end === 'timeout') return this.timeOutStart(starting);
    // Shutdown began, and a start() ignored its aborted signal: the stop that follows stops what did start.
    const cause = new Error(`start() ignored its aborted signal for ${shutdownTimeout} ms after shutdown began and was abandoned`);
    const stuck = this.giveUpStart(cause);
    this.logger.error(`Hosted services still starting ${shutdownTimeout} ms after shutdown began were abandoned: ${stuck}`);
    throw new HostedServiceStartError(stuck, cause);
  }

  /**
   * Start-up outlived `startupTimeout` (.NET HostOptions.StartupTimeout): the start signal aborts with a
   * TimeoutError, a start that honours it gets a moment to end, the services already started are stopped in
   * reverse order, and bootstrap fails naming the services that were still starting.
   */
  private async timeOutStart(starting: Promise<void>): Promise<never> {
    const limit = this.options.startupTimeout;
    const stuck = this.entries.filter((e) => e.step !== undefined);
    const names = stuck.map((e) => `${e.name} (in ${e.step})`).join(', ');
    const error = new TimeoutError(limit, `Start-up took longer than the startupTimeout of ${limit} ms; still starting: ${names}`);
    this.runner.abandon();
    this.startAbort.abort(error);
    await settlesBefore(starting.catch(ignore), AbortSignal.timeout(SHUTDOWN_GRACE_MS));
    this.giveUpStart(error, stuck);
    const started = this.entries.filter((e) => e.started).length;
    this.logger.error(`${error.message}${started > 0 ? `; stopping the ${started} already started` : ''}`);
    await this.runner.rollback(this.entries, AbortSignal.timeout(this.options.shutdownTimeout));
    throw new HostedServiceStartError(stuck.map((e) => e.name).join(', '), error);
  }

  /** Marks the services still starting failed with `cause`, and stops any other from starting. Returns their names. */
  private giveUpStart(cause: Error, stuck = this.entries.filter((e) => e.step !== undefined)): string {
    this.runner.abandon();
    this.startAbandoned = true;
    for (const entry of stuck) {
      entry.state = 'failed';
      entry.error = cause;
    }
    return stuck.map((e) => e.name).join(', ');
  }

  beforeApplicationShutdown(signal?: string): Promise<void> {
    this.signals.attach(); // hooks enabled late are still there until Nest's shutdown ends
    this.signals.shutdownBegan();
    // A signal raised by stopApplication() is named as that: the first line says what really began the stop.
    this.stopping ??= this.stop(this.stopReason ?? signal ?? 'app.close()');
    return this.stopping;
  }

  onApplicationShutdown(signal?: string): void {
    // After a signal Nest re-raises it, and the guard turns that into a clean exit; after app.close() nothing will.
    if (signal === undefined) this.signals.dispose();
  }

  /** `BackgroundHost.stopApplication()` lands here (from bootstrap on; one made earlier is handed over then). */
  private requestStop(reason: unknown): void {
    if (this.stopRequested || this.phase === 'stopping' || this.phase === 'stopped') return;
    const why = reason === undefined ? '' : `: ${describeReason(reason)}`;
    if (this.phase === 'idle' || this.phase === 'starting') {
      if (this.stopAfterStart !== undefined) return;
      this.logger.log(`Application stop requested during start-up${why}`);
      this.stopReason = `stopApplication()${why}`;
      // With shutdown hooks, the very path of SIGTERM: the signal guard aborts the start signal and Nest shuts down.
      if (this.signals.raise()) {
        this.stopRequested = true;
        return;
      }
      // Without them, the same effect by hand: the start signal aborts now, and the stop follows start-up.
      this.cancelStart();
      this.stopAfterStart = { reason };
      return;
    }
    this.stopRequested = true;
    this.stopReason = `stopApplication()${why}`;
    this.logger.log(`Application stop requested${why}`);
    if (this.signals.raise()) return;
    this.logger.error(
      'stopApplication() cannot close the Nest application without app.enableShutdownHooks(): stopping hosted services and draining queues now; the application stays up until app.close()',
    );
    this.beforeApplicationShutdown().catch((error: unknown) => {
      this.logger.error(`Stopping the background work failed: ${describeError(error)}`, errorStack(error));
    });
  }

  /** Watches a BackgroundService's `execute()`: a failure is logged, marks the service failed and may stop the app. */
  private watch(entry: ServiceEntry, service: BackgroundService): void {
    service.executeTask?.then(
      () => {
        if (this.phase === 'running' && entry.state === 'running') {
          entry.state = 'stopped';
          this.logger.log(`Hosted service ${entry.name}'s execute() returned; the service no longer runs`);
        }
      },
      (error: unknown) => {
        const stopping = this.phase === 'stopping' || this.phase === 'stopped';
        if (stopping && (error instanceof ServiceStoppingError || (error instanceof Error && error.name === 'AbortError'))) return;
        entry.state = 'failed';
        entry.error = error;
        this.logger.error(`Hosted service ${entry.name} failed: ${describeError(error)}`, errorStack(error));
        if (stopping || this.options.onServiceError !== 'stop-app') return;
        this.markProcessFailed();
        this.requestStop(new Error(`Hosted service ${entry.name} failed`, { cause: error }));
      },
    );
  }

  /** .NET 11: a host stopped by a failed BackgroundService exits non-zero, whatever ends the process. */
  private markProcessFailed(): void {
    if (!this.signals.attach()) return; // no process of ours to end: under a test module, only the log and the state tell
    process.exitCode = 1;
    process.once('exit', () => {
      if (!process.exitCode) process.exitCode = 1;
    });
  }

  private async stop(cause: string): Promise<void> {
    const began = performance.now();
    this.logger.log(`Stopping background work (${cause}); deadline ${this.options.shutdownTimeout} ms`);
    const wasStarting = this.phase === 'starting';
    this.phase = 'stopping';
    const deadlineController = new AbortController();
    const timer = setTimeout(
      () => deadlineController.abort(new Error(`Shutdown deadline of ${this.options.shutdownTimeout} ms passed`)),
      this.options.shutdownTimeout,
    );
    const deadline = deadlineController.signal;
    this.jobs.stopScheduling(); // a tick during the stop would only add work that this process will not run
    try {
      if (wasStarting && this.starting && !this.startAbandoned) {
        this.startAbort.abort(new ServiceStoppingError());
        this.logger.warn('Shutdown began while hosted services were starting; waiting for their start to end');
        await settlesBefore(this.starting.catch(ignore), deadline);
      }
      const started = this.entries.filter((e) => e.started).toReversed();
      // .NET's order: the services' stopping() hooks, then ApplicationStopping, then their stop().
      await this.runner.stopping(started, deadline);
      this.host.emit('stopping');
      const outcomes = await this.runner.stop(started, deadline);

      this.queues.closeAll();
      const backlog = this.queues.all().filter((q) => q.counts().pending + q.counts().running > 0);
      for (const queue of backlog) {
        const { pending, running } = queue.counts();
        this.logger.log(`Draining queue "${queue.name}": ${pending} pending, ${running} running`);
      }
      const reports = await this.queues.drainAll(deadline, SHUTDOWN_GRACE_MS);
      this.logDrain(reports);
      await this.jobs.afterDrain();
      const terminated = await this.threads.close(deadline);
      if (terminated.length > 0) {
        this.logger.error(
          `Worker threads: ${count(terminated.length, 'task')} still in flight at the shutdown deadline were terminated: ${terminated.join(', ')}`,
        );
      }

      await this.jobs.close();
      await this.runner.afterStop(started, deadline);
      this.phase = 'stopped';
      this.host.emit('stopped');
      this.logSummary(began, started.length, [...outcomes.values()].filter((o) => o === 'abandoned').length, reports);
    } finally {
      clearTimeout(timer);
      this.phase = 'stopped';
    }
  }

  private logDrain(reports: DrainReport[]): void {
    for (const report of reports) {
      const q = `Queue "${report.queue}"`;
      if (report.cancelledPending.length > 0) {
        this.logger.warn(`${q}: ${count(report.cancelledPending.length, 'pending item')} cancelled at the shutdown deadline: ${report.cancelledPending.join(', ')}`);
      }
      if (report.cancelledRunning.length > 0) {
        this.logger.warn(
          `${q}: ${count(report.cancelledRunning.length, 'running item')} cancelled at the shutdown deadline, their signals aborted: ${report.cancelledRunning.join(', ')}`,
        );
      }
      if (report.handedBack.length > 0) {
        this.logger.warn(
          `${q}: ${count(report.handedBack.length, 'job')} unfinished at the shutdown deadline handed back to the store (pending, no attempt charged; they run at the next start): ${report.handedBack.join(', ')}`,
        );
      }
      if (report.abandoned.length > 0) {
        this.logger.error(
          `${q}: ${count(report.abandoned.length, 'item')} still running ${SHUTDOWN_GRACE_MS} ms after the deadline, abandoned: ${report.abandoned.join(', ')}`,
        );
      }
    }
  }

  private logSummary(began: number, services: number, abandoned: number, reports: DrainReport[]): void {
    let succeeded = 0;
    let failed = 0;
    let cancelled = 0;
    for (const queue of this.queues.all()) {
      const stats = queue.counts();
      succeeded += stats.succeeded;
      failed += stats.failed;
      cancelled += stats.cancelled;
    }
    const unfinished = reports.reduce((n, r) => n + r.cancelledPending.length + r.cancelledRunning.length, 0);
    const abandonedText = abandoned > 0 ? ` (${abandoned} abandoned at the deadline)` : '';
    this.logger.log(
      `Background work stopped in ${Math.round(performance.now() - began)} ms: ${count(services, 'hosted service')} stopped${abandonedText}; ` +
        `work items: ${succeeded} succeeded, ${failed} failed, ${cancelled} cancelled (${unfinished} at the shutdown deadline)`,
    );
  }
}
