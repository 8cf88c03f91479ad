import { Inject, Injectable } from '@nestjs/common';
import { BACKGROUND_WORK_OPTIONS } from '../background-work.constants.js';
import { BackgroundHost, type HostedServiceInfo } from '../hosting/background-host.js';
import { JobRuntime } from '../jobs/job-runtime.js';
import type { JobState } from '../jobs/job.types.js';
import type { BackgroundQueue } from '../queue/background-queue.js';
import { QueueRegistry } from '../queue/queue-registry.js';
import type { ResolvedModuleOptions } from '../resolve-module-options.js';
import { WorkerThreads, type WorkerThreadsStats } from '../threads/worker-threads.js';
import { describeError } from '../log-text.js';

/** Where the application is in its life, as the hosted-service lifecycle tells it. */
export type HostPhase = 'starting' | 'running' | 'stopping' | 'stopped';

/** What a store answered, or why it did not. */
export type StoreAnswer<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * The read side of the whole machinery, for the health indicator and the dashboard: the phase of the host and
 * when its stop began, the queues, the services, the thread pool, and the store's answers bounded by a timeout
 * (a store that hangs is reported, never waited on). One place, so that both tell the same story.
 * @internal
 */
@Injectable()
export class WorkMonitor {
  private currentPhase: HostPhase = 'starting';
  private stoppingAt: number | undefined = undefined;

  constructor(
    @Inject(BACKGROUND_WORK_OPTIONS) private readonly options: ResolvedModuleOptions,
    private readonly host: BackgroundHost,
    private readonly registry: QueueRegistry,
    private readonly workerThreads: WorkerThreads,
    private readonly runtime: JobRuntime,
  ) {
    // The host's events replay to late subscribers and complete: these subscriptions end by themselves.
    host.started$.subscribe(() => {
      if (this.currentPhase === 'starting') this.currentPhase = 'running';
    });
    host.stopping$.subscribe(() => {
      this.currentPhase = 'stopping';
      this.stoppingAt = Date.now();
    });
    host.stopped$.subscribe(() => (this.currentPhase = 'stopped'));
  }

  get phase(): HostPhase {
    return this.currentPhase;
  }

  /** When the stop began (epoch ms), once it has. */
  get stoppingSince(): number | undefined {
    return this.stoppingAt;
  }

  /** The deadline of the whole stop, in ms. */
  get shutdownTimeout(): number {
    return this.options.shutdownTimeout;
  }

  queues(): BackgroundQueue[] {
    return this.registry.all();
  }

  services(): ReadonlyArray<HostedServiceInfo> {
    return this.host.services();
  }

  /** The pool's figures and size, or undefined when `threads: false`. */
  threads(): (WorkerThreadsStats & { maxThreads: number }) | undefined {
    const options = this.options.threads;
    return options === false ? undefined : { ...this.workerThreads.stats(), maxThreads: options.maxThreads };
  }

  get store(): { description: string; durable: boolean } {
    return { description: this.runtime.store.description, durable: this.runtime.store.durable };
  }

  /** Whether the store keeps recurring schedules (the optional schedule calls of the seam). */
  get keepsSchedules(): boolean {
    return typeof this.runtime.store.fireDue === 'function';
  }

  /** Jobs in `states` by queue (see `JobStore.countsByQueue`). */
  jobCounts(timeoutMs: number, states?: readonly JobState[]): Promise<StoreAnswer<Record<string, Partial<Record<JobState, number>>>>> {
    return this.ask(timeoutMs, () => this.runtime.store.countsByQueue(states));
  }

  /** The `runAt` of each queue's oldest pending job, for the queues that have one. */
  oldestPending(timeoutMs: number, queues: readonly string[]): Promise<StoreAnswer<Record<string, number>>> {
    return this.ask(timeoutMs, async () => {
      const out: Record<string, number> = {};
      for (const queue of queues) {
        const at = await this.runtime.store.oldestPending(queue);
        if (at !== undefined) out[queue] = at;
      }
      return out;
    });
  }

  /** A store call that rejects or outlives `timeoutMs` is an answer too: the reason, in one line. */
  private ask<T>(timeoutMs: number, call: () => Promise<T>): Promise<StoreAnswer<T>> {
    const what = `job store ${this.runtime.store.description}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ ok: false, error: `${what} did not answer within ${timeoutMs} ms` }), timeoutMs);
      timer.unref();
      Promise.resolve()
        .then(call)
        .then(
          (value) => resolve({ ok: true, value }),
          (error: unknown) => resolve({ ok: false, error: `${what}: ${describeError(error)}` }),
        )
        .finally(() => clearTimeout(timer));
    });
  }
}
