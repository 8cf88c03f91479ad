import { Injectable, SetMetadata, applyDecorators, type ScopeOptions } from '@nestjs/common';
import { JOB_METADATA } from '../background-work.constants.js';
import type { RetryPolicy } from '../queue/queue.options.js';

/** Options of `@Job(name, options)`: the job's defaults, each overridden by the enqueue's `JobOptions`. */
export interface JobHandlerOptions extends ScopeOptions {
  /** The named queue whose slots, rate and defaults the job shares. Default: the default queue. */
  queue?: string;
  retry?: RetryPolicy | number;
  /** Milliseconds per attempt; `Infinity` turns the queue's timeout off. */
  timeout?: number;
  priority?: number;
}

/** @internal what the decorator records; validated at bootstrap, where the class can be named. */
export interface JobMetadata {
  name: string;
  options: JobHandlerOptions | undefined;
}

/**
 * Marks a class as the handler of the durable job `name` (and makes it `@Injectable()`; list it in a module's
 * providers). The stored name is this string, never the class name, so renaming the class keeps stored jobs
 * runnable. A request- or transient-scoped handler gets a fresh instance per job.
 */
export function Job(name: string, options?: JobHandlerOptions): ClassDecorator {
  const scope: ScopeOptions | undefined =
    options !== null && typeof options === 'object' && ('scope' in options || 'durable' in options)
      ? { scope: options.scope, durable: options.durable }
      : undefined;
  return applyDecorators(Injectable(scope), SetMetadata(JOB_METADATA, { name, options } satisfies JobMetadata));
}
