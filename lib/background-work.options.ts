import type { FactoryProvider, ModuleMetadata } from '@nestjs/common';
import type { JobStore } from './jobs/stores/job-store.js';
import type { QueueOptions } from './queue/queue.options.js';
import type { WorkerThreadsOptions } from './threads/worker-threads.options.js';

/** Options of `BackgroundWorkModule.forRoot`. Every field is validated when the module is created. */
export interface BackgroundWorkModuleOptions {
  /** Milliseconds for the whole stop: hosted services plus queue drain. Default 30_000 (.NET HostOptions, Kubernetes). */
  shutdownTimeout?: number;
  /**
   * Milliseconds that start-up (every `starting()`, `start()` and `started()`) may take before bootstrap fails naming
   * the services still starting (.NET HostOptions.StartupTimeout). Default: none.
   */
  startupTimeout?: number;
  /** The default queue, injected as `BackgroundQueue`. */
  queue?: QueueOptions;
  /** Named queues, injected with `@InjectQueue(name)`. */
  queues?: Record<string, QueueOptions>;
  /** Start hosted services all at once instead of in order. Default false. */
  startConcurrently?: boolean;
  /** Stop hosted services all at once instead of in reverse order. Default false. */
  stopConcurrently?: boolean;
  /** What a `BackgroundService` whose `execute()` fails does to the application. Default `'stop-app'`. */
  onServiceError?: 'stop-app' | 'log';
  /** The worker-thread pool behind `WorkerThreads`; `false` turns it off. Threads start at the first task. */
  threads?: WorkerThreadsOptions | false;
  /** Where durable jobs are kept: `sqliteStore({ path })` to survive a crash; default `memoryStore()` (nothing survives the process). */
  store?: JobStore;
  /**
   * OpenTelemetry spans and metrics through `@opentelemetry/api`, when it is installed and the app registered a
   * tracer or meter provider before creating the app. `false` records nothing even then. Default true.
   */
  telemetry?: boolean;
}

export interface BackgroundWorkModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  inject?: FactoryProvider['inject'];
  /** The names of the named queues that `useFactory` configures, so that `@InjectQueue(name)` can be resolved. */
  queues?: string[];
  useFactory: (...args: any[]) => BackgroundWorkModuleOptions | Promise<BackgroundWorkModuleOptions>;
}
