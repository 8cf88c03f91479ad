import { Injectable, type Type } from '@nestjs/common';
import { ContextIdFactory, DiscoveryService, ModuleRef, Reflector } from '@nestjs/core';
import { JOB_METADATA } from '../background-work.constants.js';
import type { BackgroundQueue } from '../queue/background-queue.js';
import { QueueRegistry } from '../queue/queue-registry.js';
import { resolvePriority, resolveTimeout } from '../queue/resolve-queue-options.js';
import { resolveRetryPolicy, type ResolvedRetryPolicy } from '../queue/retry-policy.js';
import { checkObject, checkString } from '../validation.js';
import type { JobMetadata } from './job.decorator.js';
import { recurringMetadataOf } from './recurring.decorator.js';
import type { JobHandler, JobRecord } from './job.types.js';

const HANDLER_KEYS = ['queue', 'retry', 'timeout', 'priority', 'scope', 'durable'] as const;

/** One `@Job` class, its options checked and its queue found. */
export interface JobHandlerEntry {
  name: string;
  type: Type<JobHandler>;
  queue: BackgroundQueue;
  /** `undefined`: the queue's (no retry when it has none). */
  retry: ResolvedRetryPolicy | undefined;
  retrySet: boolean;
  timeout: number | undefined;
  timeoutSet: boolean;
  priority: number;
  /** The one instance of a handler whose dependency tree is static: runs need no JobRecord to find it. */
  singleton: JobHandler | undefined;
  /** The handler for one run: the singleton, or a fresh instance in its own DI context per job. */
  instance(job: JobRecord): Promise<JobHandler> | JobHandler;
}

/** Reads a class's `@Job` metadata, or undefined when it has none. */
export function jobMetadataOf(reflector: Reflector, type: unknown): JobMetadata | undefined {
  return typeof type === 'function' ? reflector.get<JobMetadata | undefined>(JOB_METADATA, type as Type) : undefined;
}

/** Finds the providers marked `@Job(name)`, checks them (errors name the class) and indexes them by job name. */
@Injectable()
export class JobHandlerExplorer {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
    private readonly moduleRef: ModuleRef,
    private readonly queues: QueueRegistry,
  ) {}

  explore(): Map<string, JobHandlerEntry> {
    const handlers = new Map<string, JobHandlerEntry>();
    const seen = new Set<unknown>();
    for (const wrapper of this.discovery.getProviders()) {
      const type = typeof wrapper.metatype === 'function' ? (wrapper.metatype as Type<JobHandler>) : undefined;
      const metadata = jobMetadataOf(this.reflector, type);
      if (type !== undefined && metadata === undefined && recurringMetadataOf(type).length > 0) {
        throw new TypeError(`@Recurring on ${type.name} needs @Job(name) on the same class: each tick of a schedule inserts that job`);
      }
      if (type === undefined || metadata === undefined || seen.has(type)) continue;
      seen.add(type);
      const entry = this.entry(type, metadata, wrapper.isDependencyTreeStatic() ? (wrapper.instance as JobHandler | undefined) : undefined);
      const other = handlers.get(entry.name);
      if (other !== undefined) {
        throw new Error(`Two @Job classes handle the job "${entry.name}": ${other.type.name} and ${type.name}; a job name must have one handler`);
      }
      handlers.set(entry.name, entry);
    }
    return handlers;
  }

  private entry(type: Type<JobHandler>, metadata: JobMetadata, singleton: JobHandler | undefined): JobHandlerEntry {
    const where = `@Job on ${type.name}`;
    const name = checkString(`${where}: the job name`, metadata.name);
    const path = `@Job("${name}") on ${type.name} options`;
    const options = metadata.options === undefined ? {} : checkObject(path, metadata.options, HANDLER_KEYS);
    if (typeof type.prototype?.run !== 'function') {
      throw new TypeError(`${where} must have a run(payload, context) method (implement JobHandler)`);
    }
    let queue: BackgroundQueue;
    try {
      queue = this.queues.get(options.queue === undefined ? undefined : checkString(`${path}.queue`, options.queue));
    } catch (error) {
      throw new RangeError(`${path}.queue: ${(error as Error).message}`);
    }
    const retrySet = options.retry !== undefined;
    const timeoutSet = options.timeout !== undefined;
    return {
      name,
      type,
      queue,
      retry: retrySet ? resolveRetryPolicy(`${path}.retry`, options.retry) : queue.settings.retry,
      retrySet,
      timeout: timeoutSet ? resolveTimeout(`${path}.timeout`, options.timeout) : queue.settings.timeout,
      timeoutSet,
      priority: resolvePriority(`${path}.priority`, options.priority, queue.settings.priority),
      singleton,
      instance: singleton !== undefined ? () => singleton : (job) => this.scoped(type, job),
    };
  }

  /** A request- or transient-scoped handler: a DI context of its own per job, with the job as its REQUEST. */
  private async scoped(type: Type<JobHandler>, job: JobRecord): Promise<JobHandler> {
    const contextId = ContextIdFactory.create();
    this.moduleRef.registerRequestByContextId(job, contextId);
    return this.moduleRef.resolve(type, contextId, { strict: false });
  }
}
