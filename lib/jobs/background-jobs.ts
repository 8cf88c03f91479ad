import { Injectable, type Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Observable } from 'rxjs';
import { CancelledError, QueueClosedError } from '../queue/queue.errors.js';
import type { BackgroundQueue } from '../queue/background-queue.js';
import { QueueRegistry } from '../queue/queue-registry.js';
import { resolvePriority, resolveTimeout } from '../queue/resolve-queue-options.js';
import { resolveRetryPolicy } from '../queue/retry-policy.js';
import { MAX_TIMER_DELAY, checkNumber, checkObject, checkOneOf, checkString, describe } from '../validation.js';
import type { JobOverrides } from './job-feed.js';
import { jobMetadataOf, type JobHandlerEntry } from './job-handler.explorer.js';
import { checkScheduleId, resolveTiming } from './job-scheduler.js';
import { newJobId } from './job-ids.js';
import { serializePayload } from './job-payload.js';
import { toJobRecord, toScheduleRecord, toStoredError } from './job-record.js';
import { JobRuntime } from './job-runtime.js';
import {
  JOB_STATES,
  type JobEvent,
  type JobHandler,
  type JobListFilter,
  type JobOptions,
  type JobRecord,
  type JobState,
  type ScheduleOptions,
  type ScheduleRecord,
} from './job.types.js';
import type { NewJob } from './stores/job-store.js';

const JOB_OPTION_KEYS = ['key', 'delay', 'runAt', 'priority', 'retry', 'timeout', 'queue', 'group'] as const;
const LIST_KEYS = ['queue', 'name', 'key', 'state', 'limit', 'after', 'order'] as const;
const SCHEDULE_KEYS = ['tz', 'overlap', 'misfire', 'queue', 'priority', 'retry', 'timeout'] as const;
const MAX_KEY_LENGTH = 512;
/** A group names a user or a tenant: an id, not a document. */
const MAX_GROUP_LENGTH = 200;

/** A job to enqueue: its handler class or its name, its payload and options. */
export interface JobRequest<P = unknown> {
  job: Type<JobHandler<P>> | string;
  payload: P;
  options?: JobOptions;
}

/**
 * Durable jobs: a name and a JSON payload kept in the store until a `@Job` handler has run them, so that a crash
 * or a SIGKILL loses nothing (with a durable store). Jobs run on the queue their `@Job` names, in its slots.
 */
@Injectable()
export class BackgroundJobs {
  readonly events$: Observable<JobEvent>;

  constructor(
    private readonly runtime: JobRuntime,
    private readonly queues: QueueRegistry,
    private readonly reflector: Reflector,
  ) {
    this.events$ = runtime.events.asObservable();
  }

  /**
   * Resolves with the job once it is committed to the store (enqueues of one turn share one commit). With a
   * `key` that an active job of the queue has, resolves with that job instead. Rejects with a TypeError or
   * RangeError naming a bad argument (a payload that JSON would change names its path), and with the store's
   * error when it cannot write: nothing is acknowledged that is not stored.
   */
  enqueue<P>(job: Type<JobHandler<P>> | string, payload: P, options?: JobOptions): Promise<JobRecord<P>> {
    try {
      const row = this.prepare('BackgroundJobs.enqueue', job, payload, options);
      return this.runtime.insert([row]).then(([result]) => toJobRecord<P>(result.job, result.created ? payload : undefined));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Like `enqueue` for many jobs, in one transaction: all are stored, or none. */
  enqueueMany(jobs: ReadonlyArray<JobRequest<any>>): Promise<JobRecord[]> {
    try {
      if (!Array.isArray(jobs)) throw new TypeError(`BackgroundJobs.enqueueMany(jobs) must be an array, got ${describe(jobs)}`);
      const rows = jobs.map((request, i) => {
        const path = `BackgroundJobs.enqueueMany jobs[${i}]`;
        const r = checkObject(path, request, ['job', 'payload', 'options']);
        return this.prepare(path, r.job as Type<JobHandler> | string, r.payload, r.options as JobOptions | undefined);
      });
      if (rows.length === 0) return Promise.resolve([]);
      return this.runtime.insert(rows).then((results) => results.map((r, i) => toJobRecord(r.job, r.created ? (jobs[i].payload as unknown) : undefined)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async get(id: string): Promise<JobRecord | undefined> {
    checkString('BackgroundJobs.get(id)', id);
    const row = await this.runtime.store.get(id);
    return row === undefined ? undefined : toJobRecord(row);
  }

  /**
   * Jobs in creation order (newest first with `order: 'desc'`), `limit` (default 50, at most 1000) at a time; pass
   * the last id as `after` for the next page. Each page is read by the store from its cursor, never the whole set.
   */
  async list(filter?: JobListFilter): Promise<JobRecord[]> {
    const path = 'BackgroundJobs.list filter';
    const f = filter === undefined ? {} : checkObject(path, filter, LIST_KEYS);
    const states = f.state === undefined ? undefined : Array.isArray(f.state) ? f.state : [f.state];
    states?.forEach((state, i) => checkOneOf(`${path}.state${Array.isArray(f.state) ? `[${i}]` : ''}`, state, JOB_STATES));
    const rows = await this.runtime.store.list({
      queue: f.queue === undefined ? undefined : checkString(`${path}.queue`, f.queue),
      name: f.name === undefined ? undefined : checkString(`${path}.name`, f.name),
      key: f.key === undefined ? undefined : checkString(`${path}.key`, f.key),
      states: states as JobState[] | undefined,
      limit: f.limit === undefined ? 50 : checkNumber(`${path}.limit`, f.limit, { min: 1, max: 1000 }),
      after: f.after === undefined ? undefined : checkString(`${path}.after`, f.after),
      order: f.order === undefined ? undefined : checkOneOf(`${path}.order`, f.order, ['asc', 'desc'] as const),
    });
    return rows.map((row) => toJobRecord(row));
  }

  /**
   * A scheduled or pending job is cancelled; a running one has its signal aborted and is not retried (in this
   * process at once, in another at its next heartbeat). False when the job had already ended or does not exist.
   */
  async cancel(id: string, reason?: string): Promise<boolean> {
    checkString('BackgroundJobs.cancel(id)', id);
    if (reason !== undefined) checkString('BackgroundJobs.cancel(reason)', reason);
    const error = new CancelledError(`Job ${id} was cancelled with BackgroundJobs.cancel()${reason === undefined ? '' : `: ${reason}`}`);
    const outcome = await this.runtime.store.cancel(id, toStoredError(error, 0, Date.now()), Date.now());
    if (outcome === false) return false;
    if (outcome === 'requested') {
      for (const feed of this.runtime.feeds.values()) feed.items.get(id)?.item.cancel(error);
    } else {
      const row = await this.runtime.store.get(id);
      if (row !== undefined) this.runtime.emit('cancelled', row, row.attempts, { reason: error });
      // The next job of its group may be free now.
      if (row?.group != null) this.runtime.feeds.get(row.queue)?.wake();
    }
    return true;
  }

  /** A failed or cancelled job runs again from attempt 1. False for a job in any other state. */
  async retry(id: string): Promise<boolean> {
    checkString('BackgroundJobs.retry(id)', id);
    const retried = await this.runtime.store.retry(id, Date.now());
    if (retried) this.runtime.wakeAll();
    return retried;
  }

  /** Jobs by state, of one queue or of all. */
  stats(queue?: string): Promise<Record<JobState, number>> {
    if (queue !== undefined) checkString('BackgroundJobs.stats(queue)', queue);
    return this.runtime.store.counts(queue);
  }

  /**
   * Resolves once no job is pending or running on the queues this process runs and every outcome is written:
   * for tests (scheduled jobs are not waited for; advance fake timers for those).
   */
  async onIdle(): Promise<void> {
    for (;;) {
      await this.runtime.writes.flush();
      let busy = 0;
      for (const name of this.runtime.feeds.keys()) {
        const counts = await this.runtime.store.counts(name);
        busy += counts.pending + counts.running;
      }
      if (busy === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  // ---- recurring schedules --------------------------------------------------------------------------------------

  /**
   * Creates the schedule `id`, or replaces it (Hangfire's AddOrUpdate): at each time `cron` names, in `options.tz`
   * (default UTC), one `job` with `payload` (default `{}`) is inserted in the store. On a durable store each tick
   * fires once across every process and restart. Replacing a schedule with the same cron and time zone keeps its
   * next tick. Resolves with the stored schedule; rejects with a TypeError or RangeError naming a bad argument (an
   * invalid cron or time zone among them), or when `id` is a `@Recurring`'s of this process.
   */
  async schedule<P>(id: string, cron: string, job: Type<JobHandler<P>> | string, payload?: P, options?: ScheduleOptions): Promise<ScheduleRecord<P>> {
    const method = 'BackgroundJobs.schedule';
    const scheduleId = checkScheduleId(`${method}(id)`, id);
    const expression = checkString(`${method}(cron)`, cron);
    const { name, defaults } = this.resolveJob(method, job);
    const path = `${method} options`;
    const o = options === undefined ? {} : checkObject(path, options, SCHEDULE_KEYS);
    const timing = resolveTiming(path, o);
    const handler = this.runtime.handlers.get(name);
    const queue = this.resolveQueue(path, o, handler, defaults);
    const payloadText = serializePayload('payload', payload === undefined ? {} : payload);
    const runOptions = this.runOptions(path, o, handler, queue);
    const scheduler = this.runtime.scheduler;
    scheduler.checkSupported(method);
    const times = await scheduler.compile(`${method}(cron)`, expression, timing.tz);
    await this.runtime.whenOpen();
    const declaredBy = scheduler.declaredBy(scheduleId);
    if (declaredBy !== undefined) {
      throw new RangeError(`${method}(id): "${scheduleId}" is the schedule of @Recurring on ${declaredBy}; give this one another id`);
    }
    const stored = await scheduler.put({
      id: scheduleId,
      cron: expression,
      ...timing,
      source: 'call',
      name,
      queue: queue.name,
      payload: payloadText,
      ...runOptions,
      nextRunAt: times.next(Date.now()) ?? null,
    });
    return toScheduleRecord<P>(stored);
  }

  /**
   * Deletes the schedule `id`: no tick fires from now on; jobs it already inserted stay. False when there was none.
   * A `@Recurring`'s schedule of this process is refused (remove the decorator: it would come back at the next start).
   */
  async unschedule(id: string): Promise<boolean> {
    const method = 'BackgroundJobs.unschedule';
    const scheduleId = checkScheduleId(`${method}(id)`, id);
    this.runtime.scheduler.checkSupported(method);
    await this.runtime.whenOpen();
    const declaredBy = this.runtime.scheduler.declaredBy(scheduleId);
    if (declaredBy !== undefined) {
      throw new RangeError(`${method}(id): "${scheduleId}" is declared by @Recurring on ${declaredBy}; remove the decorator instead`);
    }
    return this.runtime.store.removeSchedule!(scheduleId);
  }

  /** Every schedule in the store (those of other processes too), by id. */
  async schedules(): Promise<ScheduleRecord[]> {
    this.runtime.scheduler.checkSupported('BackgroundJobs.schedules');
    await this.runtime.whenOpen();
    return (await this.runtime.store.listSchedules!()).map((row) => toScheduleRecord(row));
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  /** Checks one enqueue's arguments and makes its row. Throws at the call site. */
  private prepare(method: string, job: unknown, payload: unknown, options: unknown): NewJob {
    const { name, defaults } = this.resolveJob(method, job);
    const path = `${method} options`;
    const o = options === undefined ? {} : checkObject(path, options, JOB_OPTION_KEYS);
    const handler = this.runtime.handlers.get(name);
    const queue = this.resolveQueue(path, o, handler, defaults);
    if (!this.runtime.store.durable && this.runtime.isOpen && queue.isClosing) throw new QueueClosedError(queue.name);
    const payloadText = serializePayload('payload', payload);
    const now = Date.now();
    if (o.delay !== undefined && o.runAt !== undefined) throw new TypeError(`${path}: give delay or runAt, not both`);
    let runAt = now;
    if (o.delay !== undefined) runAt = now + checkNumber(`${path}.delay`, o.delay, { min: 0, max: MAX_TIMER_DELAY });
    if (o.runAt !== undefined) {
      if (!(o.runAt instanceof Date) || Number.isNaN(o.runAt.getTime())) throw new TypeError(`${path}.runAt must be a valid Date, got ${describe(o.runAt)}`);
      runAt = o.runAt.getTime();
    }
    let key: string | null = null;
    if (o.key !== undefined) {
      key = checkString(`${path}.key`, o.key);
      if (key.length > MAX_KEY_LENGTH) throw new RangeError(`${path}.key must be at most ${MAX_KEY_LENGTH} characters, got ${key.length}`);
    }
    let group: string | null = null;
    if (o.group !== undefined) {
      group = checkString(`${path}.group`, o.group);
      if (group.length > MAX_GROUP_LENGTH) throw new RangeError(`${path}.group must be at most ${MAX_GROUP_LENGTH} characters, got ${group.length}`);
      const store = this.runtime.store;
      if (!store.capabilities.groups) {
        throw new TypeError(`${path}.group: the job store ${store.description} does not run jobs in groups (memoryStore() and sqliteStore() do)`);
      }
    }
    return {
      id: newJobId(now),
      name,
      queue: queue.name,
      payload: payloadText,
      key,
      group,
      ...this.runOptions(path, o, handler, queue),
      runAt,
      createdAt: now,
      trace: null,
    };
  }

  /** The job's name, and its `@Job` options when given by class. */
  private resolveJob(method: string, job: unknown): { name: string; defaults: Record<string, unknown> } {
    if (typeof job === 'string') return { name: checkString(`${method}(job)`, job), defaults: {} };
    if (typeof job === 'function') {
      const metadata = jobMetadataOf(this.reflector, job);
      if (metadata === undefined) {
        throw new TypeError(`${method}(job): ${(job as Type).name || 'the class'} is not a @Job class; decorate it with @Job(name) and list it in a module's providers`);
      }
      return { name: metadata.name, defaults: (metadata.options ?? {}) as Record<string, unknown> };
    }
    throw new TypeError(`${method}(job) must be a @Job class or a job name, got ${describe(job)}`);
  }

  /** The queue a job runs on: the options', else its handler's, else its `@Job`'s, else the default queue. */
  private resolveQueue(path: string, o: Record<string, unknown>, handler: JobHandlerEntry | undefined, defaults: Record<string, unknown>): BackgroundQueue {
    const queueName = o.queue !== undefined ? checkString(`${path}.queue`, o.queue) : (handler?.queue.name ?? (defaults.queue as string | undefined));
    try {
      return this.queues.get(queueName);
    } catch (error) {
      throw new RangeError(`${path}.queue: ${(error as Error).message}`);
    }
  }

  /** The row fields that come from `retry`, `timeout` and `priority`: the options', else the handler's, else the queue's. */
  private runOptions(path: string, o: Record<string, unknown>, handler: JobHandlerEntry | undefined, queue: BackgroundQueue): Pick<NewJob, 'priority' | 'maxAttempts' | 'options'> {
    const overrides: JobOverrides = {};
    if (o.retry !== undefined) overrides.retry = resolveRetryPolicy(`${path}.retry`, o.retry) ?? null;
    if (o.timeout !== undefined) overrides.timeout = resolveTimeout(`${path}.timeout`, o.timeout) ?? null;
    const defaultRetry = handler?.retry ?? queue.settings.retry;
    const retry = overrides.retry !== undefined ? overrides.retry : defaultRetry;
    const priority = resolvePriority(`${path}.priority`, o.priority, handler?.priority ?? queue.settings.priority);
    return {
      priority,
      maxAttempts: retry?.attempts ?? 1,
      options: overrides.retry === undefined && overrides.timeout === undefined ? null : JSON.stringify(overrides),
    };
  }
}
