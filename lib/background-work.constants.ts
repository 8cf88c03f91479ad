/** Injection token of the validated module options. */
export const BACKGROUND_WORK_OPTIONS = Symbol('BACKGROUND_WORK_OPTIONS');
/** Metadata key that `@HostedService()` sets on a class. */
export const HOSTED_SERVICE_METADATA = 'nestjs-background-work:hosted-service';
/** The logger context of every line this library writes. */
export const LOG_CONTEXT = 'BackgroundWork';
/** The name of the queue injected as `BackgroundQueue`. */
export const DEFAULT_QUEUE = 'default';
/** How long running work may take to honour its aborted signal after the shutdown deadline. */
export const SHUTDOWN_GRACE_MS = 1_000;
/** Metadata key that `@Job()` sets on a class. */
export const JOB_METADATA = 'nestjs-background-work:job';
/** Metadata key under which `@Recurring()` lists a class's schedules. */
export const RECURRING_METADATA = 'nestjs-background-work:recurring';
