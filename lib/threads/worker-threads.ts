import { existsSync } from 'node:fs';
import { basename, isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Logger } from '@nestjs/common';
import { MessageChannel, receiveMessageOnPort, type MessagePort, type Transferable } from 'node:worker_threads';
import { LOG_CONTEXT } from '../background-work.constants.js';
import { IntrusiveList } from '../intrusive-list.js';
import { describeError, errorStack } from '../log-text.js';
import { Piscina } from 'piscina';
import { MAX_TIMER_DELAY, checkFunction, checkObject, checkSignal, checkString, describe } from '../validation.js';
import { deserializeTaskError } from './task-error.js';
import { ThreadUtilization } from './thread-utilization.js';
import type { TaskMessage } from './task-runner.js';
import { COMPILED_RUNNER, SOURCE_RUNNER } from './runner-location.js';
import { TYPESCRIPT_REGISTER_URL } from './typescript-hooks.js';
import type { ResolvedWorkerThreadsOptions } from './worker-threads.options.js';

export interface RunTaskOptions {
  /** The export of the task file to call. Default: its default export. */
  name?: string;
  /** Aborting it removes a queued task, or terminates the thread of a running one; `run` then rejects with its reason. */
  signal?: AbortSignal;
  /** Objects moved to the thread instead of copied (ArrayBuffers, MessagePorts). */
  transfer?: Transferable[];
  /** Receives what the task reports with `context.progress(value)`, on this thread, before `run` settles. */
  progress?: (value: number) => void;
}

/** Milliseconds, from Piscina's histograms. */
export interface TimePercentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface WorkerThreadsStats {
  threads: number;
  queued: number;
  running: number;
  completed: number;
  /**
   * Share of the pool's capacity (`maxThreads`) busy over the last 2 to 4 seconds (since the pool started, if it is
   * younger), from 0 to 1: thread time occupied by tasks, counted while they run, not only once they end.
   */
  utilization: number;
  runTime: TimePercentiles;
  waitTime: TimePercentiles;
}

/** A task between `run` and its settling; the label is built only if the shutdown log needs it. */
interface TaskInFlight {
  file: string;
  name: string;
  prev: TaskInFlight | undefined;
  next: TaskInFlight | undefined;
}

function taskLabel(task: TaskInFlight): string {
  return task.name === 'default' ? basename(fileURLToPath(task.file)) : `${basename(fileURLToPath(task.file))}#${task.name}`;
}

const RUN_KEYS = ['name', 'signal', 'transfer', 'progress'] as const;
const NO_TIMES: TimePercentiles = { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };

/**
 * CPU-heavy work on worker threads, so that it never blocks the event loop that serves requests. Built on Piscina.
 * Task files are ES modules (or CommonJS) whose default export, or the export named by `name`, takes the input and
 * returns the output, sync or async.
 */
export class WorkerThreads {
  private pool: Piscina | undefined;
  private closed = false;
  /** The tasks in flight, for the shutdown log. */
  private readonly inFlight = new IntrusiveList<TaskInFlight>();
  /** Set by `close()` while it waits for the tasks in flight. */
  private onDrained: (() => void) | undefined;
  private utilization: ThreadUtilization | undefined;
  private readonly files = new Map<string, string>();
  private readonly logger = new Logger(LOG_CONTEXT);

  constructor(private readonly options: ResolvedWorkerThreadsOptions | false) {}

  /**
   * Runs `task` on a worker thread with `input` (structured-cloned, or moved when listed in `transfer`).
   * @param task the task file: a `URL` (`new URL('./resize.task.js', import.meta.url)`), a file URL string or an absolute path.
   * @throws TypeError for a missing task file or bad options, at the call site
   */
  run<I = unknown, O = unknown>(task: URL | string, input: I, options?: RunTaskOptions): Promise<O> {
    if (this.options === false) {
      throw new Error('Worker threads are off: BackgroundWorkModule was configured with threads: false');
    }
    const file = this.resolveTask(task);
    let name = 'default';
    let signal: AbortSignal | undefined;
    let transfer: Transferable[] | undefined;
    let progress: ((value: number) => void) | undefined;
    if (options !== undefined) {
      const o = checkObject('WorkerThreads.run options', options, RUN_KEYS);
      if (o.name !== undefined) name = checkString('WorkerThreads.run options.name', o.name);
      if (o.signal !== undefined) signal = checkSignal('WorkerThreads.run options.signal', o.signal);
      if (o.transfer !== undefined) {
        if (!Array.isArray(o.transfer)) throw new TypeError(`WorkerThreads.run options.transfer must be an array, got ${describe(o.transfer)}`);
        transfer = o.transfer as Transferable[];
      }
      if (o.progress !== undefined) {
        checkFunction('WorkerThreads.run options.progress', o.progress);
        progress = o.progress as (value: number) => void;
      }
    }
    if (this.closed) return Promise.reject(new Error('Worker threads are closed: the application is shutting down'));
    if (signal?.aborted) return Promise.reject(signal.reason);

    if (this.pool === undefined) {
      this.pool = this.createPool(this.options);
      this.utilization = new ThreadUtilization(this.options.maxThreads);
    }
    const pool = this.pool;
    const flight: TaskInFlight = { file, name, prev: undefined, next: undefined };
    this.inFlight.add(flight);
    this.utilization!.tasksInFlight(this.inFlight.size);
    const message: TaskMessage = { file, name, input };
    let port: MessagePort | undefined;
    if (progress !== undefined) {
      const channel = new MessageChannel();
      port = channel.port1;
      port.on('message', (value: number) => this.report(progress, value, flight));
      message.port = channel.port2;
      transfer = transfer === undefined ? [channel.port2] : [...transfer, channel.port2];
    }
    const settle = (): void => {
      this.inFlight.delete(flight);
      this.utilization!.tasksInFlight(this.inFlight.size);
      if (this.inFlight.size === 0) this.onDrained?.();
      if (port === undefined) return;
      // The task posted its progress before it returned, but 'message' events come later: deliver what is queued.
      for (let next = receiveMessageOnPort(port); next !== undefined; next = receiveMessageOnPort(port)) {
        this.report(progress!, next.message as number, flight);
      }
      port.close();
    };
    return pool.run(message, { signal, transferList: transfer as never }).then(
      (output: O) => {
        settle();
        return output;
      },
      (error: unknown) => {
        settle();
        // Like fetch: an aborted call rejects with the signal's reason, not Piscina's wrapper.
        throw signal?.aborted ? signal.reason : deserializeTaskError(error);
      },
    );
  }

  /** A progress callback that throws must not become an uncaught exception in a port's event. */
  private report(progress: (value: number) => void, value: number, task: TaskInFlight): void {
    try {
      progress(value);
    } catch (error) {
      this.logger.error(`The progress callback of thread task ${taskLabel(task)} threw: ${describeError(error)}`, errorStack(error));
    }
  }

  stats(): WorkerThreadsStats {
    const pool = this.pool;
    if (pool === undefined) {
      return { threads: 0, queued: 0, running: 0, completed: 0, utilization: 0, runTime: NO_TIMES, waitTime: NO_TIMES };
    }
    const histogram = pool.histogram;
    const times = (s: typeof histogram.runTime): TimePercentiles => ({ p50: s.p50, p90: s.p90, p99: s.p99, max: s.max, mean: s.mean });
    const queued = pool.queueSize;
    return {
      threads: pool.threads.length,
      queued,
      running: Math.max(this.inFlight.size - queued, 0),
      completed: pool.completed,
      utilization: this.utilization!.read(),
      runTime: times(histogram.runTime),
      waitTime: times(histogram.waitTime),
    };
  }

  /**
   * Refuses new tasks, lets those in flight finish until `deadline` aborts, then terminates the threads.
   * Returns the labels of the tasks that were terminated.
   * @internal called by the host after the queues have drained
   */
  async close(deadline: AbortSignal): Promise<string[]> {
    this.closed = true;
    const pool = this.pool;
    if (pool === undefined) return [];
    // Not Piscina's close(): it waits only for tasks already on a thread and rejects those still queued or waiting
    // for their thread to boot. Every task this class accepted gets the deadline instead.
    const finished =
      this.inFlight.size === 0 ||
      (await new Promise<boolean>((resolve) => {
        if (deadline.aborted) return resolve(false);
        const onAbort = (): void => {
          this.onDrained = undefined;
          resolve(false);
        };
        deadline.addEventListener('abort', onAbort, { once: true });
        this.onDrained = () => {
          deadline.removeEventListener('abort', onAbort);
          resolve(true);
        };
      }));
    const terminated = finished ? [] : this.inFlight.toArray().map(taskLabel);
    // Nothing is in flight after a drain; at the deadline this terminates the threads and rejects what is left.
    await pool.destroy();
    return terminated;
  }

  /** A task reference as a file URL, found once per reference: the .ts source stands in for a missing .js. */
  private resolveTask(task: URL | string): string {
    const key = typeof task === 'string' ? task : task?.href;
    const known = key === undefined ? undefined : this.files.get(key);
    if (known !== undefined) return known;
    let url: URL;
    if (task instanceof URL) {
      url = task;
    } else if (typeof task === 'string' && task.startsWith('file:')) {
      url = new URL(task);
    } else if (typeof task === 'string' && isAbsolute(task)) {
      url = pathToFileURL(task);
    } else {
      throw new TypeError(
        `WorkerThreads.run(task) must be a URL, a file URL or an absolute path, such as new URL('./resize.task.js', import.meta.url); got ${describe(task)}`,
      );
    }
    if (url.protocol !== 'file:') throw new TypeError(`WorkerThreads.run(task) must be a file: URL, got ${url.href}`);
    const path = fileURLToPath(url);
    let resolved: string | undefined;
    if (existsSync(path)) resolved = url.href;
    else if (/\.[mc]?js$/.test(path)) {
      const source = path.replace(/\.([mc]?)js$/, '.$1ts');
      if (existsSync(source)) resolved = pathToFileURL(source).href;
    }
    if (resolved === undefined) throw new TypeError(`WorkerThreads.run(task): no task file at ${path}`);
    this.files.set(key!, resolved);
    return resolved;
  }

  private createPool(options: ResolvedWorkerThreadsOptions): Piscina {
    const compiled = existsSync(fileURLToPath(COMPILED_RUNNER));
    return new Piscina({
      filename: (compiled ? COMPILED_RUNNER : SOURCE_RUNNER).href,
      minThreads: options.minThreads,
      maxThreads: options.maxThreads,
      idleTimeout: options.idleTimeout,
      maxQueue: options.maxQueue,
      resourceLimits: options.resourceLimits,
      // The host's deadline decides when running tasks are cut off, not Piscina's own close timeout.
      closeTimeout: MAX_TIMER_DELAY,
      ...(compiled ? {} : { execArgv: [...process.execArgv, '--import', TYPESCRIPT_REGISTER_URL] }),
    });
  }
}
