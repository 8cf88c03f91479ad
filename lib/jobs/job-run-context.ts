import type { Attempt } from '../queue/attempt.js';
import type { JobContext } from './job.types.js';
import type { ClaimedJob } from './stores/job-store.js';

/** The `JobContext` of one attempt: the engine's attempt (signal, progress) plus what the store knows of the job. */
export class JobRunContext implements JobContext {
  constructor(
    private readonly attemptContext: Attempt,
    private readonly row: ClaimedJob,
  ) {}

  get id(): string {
    return this.row.id;
  }
  get name(): string {
    return this.row.name;
  }
  get attempt(): number {
    return this.attemptContext.attempt;
  }
  get signal(): AbortSignal {
    return this.attemptContext.signal;
  }
  get progress(): (value: number) => void {
    return this.attemptContext.progress;
  }
  get queue(): string {
    return this.row.queue;
  }
  get key(): string | undefined {
    return this.row.key ?? undefined;
  }
  get group(): string | undefined {
    return this.row.group ?? undefined;
  }
  get createdAt(): Date {
    return new Date(this.row.createdAt);
  }
  get stalls(): number {
    return this.row.stalls;
  }
}
