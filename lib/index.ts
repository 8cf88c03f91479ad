export { BackgroundWorkModule } from './background-work.module.js';
export type { BackgroundWorkModuleAsyncOptions, BackgroundWorkModuleOptions } from './background-work.options.js';

export { BackgroundQueue, type QueueStats } from './queue/background-queue.js';
export { InjectQueue, getQueueToken } from './queue/inject-queue.decorator.js';
export { CancelledError, QueueClosedError, QueueFullError, TimeoutError } from './queue/queue.errors.js';
export type { QueueOptions, RetryPolicy } from './queue/queue.options.js';
export type { WorkEvent, WorkEventType } from './queue/work-event.js';
export type { EnqueueOptions, WorkContext, WorkFunction, WorkItem, WorkState } from './queue/work-item.js';

export { BackgroundHost, type HostedServiceInfo, type HostedServiceState } from './hosting/background-host.js';
export { BackgroundService, ServiceStoppingError } from './hosting/background-service.js';
export { HostedService, type HostedServiceOptions } from './hosting/hosted-service.js';
export { PeriodicService, type PeriodicServiceOptions, type PeriodicServiceStats } from './hosting/periodic-service.js';
export { HostedServiceStartError } from './hosting/service-runner.js';

export { WorkerThreads, type RunTaskOptions, type TimePercentiles, type WorkerThreadsStats } from './threads/worker-threads.js';
export type { WorkerThreadsOptions } from './threads/worker-threads.options.js';
export type { TaskContext } from './threads/task-context.js';

export { BackgroundJobs, type JobRequest } from './jobs/background-jobs.js';
export { Job, type JobHandlerOptions } from './jobs/job.decorator.js';
export { Recurring, type RecurringOptions } from './jobs/recurring.decorator.js';
export { JobStalledError, JobStoreClosedError } from './jobs/job.errors.js';
export { MAX_PAYLOAD_BYTES } from './jobs/job-payload.js';
export type {
  JobContext,
  JobError,
  JobEvent,
  JobEventType,
  JobHandler,
  JobListFilter,
  JobOptions,
  JobRecord,
  JobState,
  ScheduleOptions,
  ScheduleRecord,
} from './jobs/job.types.js';
export type { JobStore } from './jobs/stores/job-store.js';
export { memoryStore, type MemoryStoreOptions, type RetentionOptions } from './jobs/stores/memory-store.js';
export { sqliteStore, type SqliteStoreOptions } from './jobs/stores/sqlite-store.js';
export { bullmqStore, type BullmqStoreOptions } from './jobs/stores/bullmq-store.js';
export { SqliteStoreError } from './jobs/stores/sqlite/errors.js';
export type { SqliteDriverName } from './jobs/stores/sqlite/sqlite-driver.js';

export { BackgroundWorkHealthIndicator, type BackgroundWorkHealthResult, type QueueHealth } from './health/background-work.health-indicator.js';
export type { BackgroundWorkHealthOptions } from './health/health-options.js';

export { BackgroundWorkExceptionFilter, type ServiceUnavailableBody } from './errors/background-work.exception-filter.js';

export { BackgroundWorkDashboardModule } from './dashboard/background-work-dashboard.module.js';
export type { BackgroundWorkDashboardOptions } from './dashboard/dashboard.options.js';
