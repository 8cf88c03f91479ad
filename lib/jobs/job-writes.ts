import type { Logger } from '@nestjs/common';
import { describeError } from '../log-text.js';
import type { InsertResult, JobStore, JobUpdate, NewJob } from './stores/job-store.js';

interface PendingInsert {
  jobs: readonly NewJob[];
  resolve: (results: InsertResult[]) => void;
  reject: (error: unknown) => void;
}

interface PendingUpdate {
  update: JobUpdate;
  done: (() => void) | undefined;
}

/**
 * Group commit: every insert and every outcome written within one turn of the event loop goes to the store in
 * one transaction each (inserts first), so a burst of enqueues or completions costs one commit, not one each.
 * An enqueue resolves only after its commit; a failed commit rejects every enqueue in it (nothing is
 * acknowledged that is not stored).
 */
export class JobWrites {
  private inserts: PendingInsert[] = [];
  private updates: PendingUpdate[] = [];
  /** Progress is coalesced per job: only the last value of a turn is written. */
  private progress = new Map<string, number>();
  private scheduled = false;
  private flushing: Promise<void> | undefined = undefined;
  private readonly flushTask = (): void => {
    this.scheduled = false;
    void this.flush();
  };

  constructor(
    private readonly store: JobStore,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  insert(jobs: readonly NewJob[]): Promise<InsertResult[]> {
    return new Promise((resolve, reject) => {
      this.inserts.push({ jobs, resolve, reject });
      this.schedule();
    });
  }

  /** Queues an outcome; `done` runs once it is committed (or has failed and been logged). */
  update(update: JobUpdate, done?: () => void): void {
    if (update.type === 'progress') this.progress.set(update.id, update.progress);
    else this.updates.push({ update, done });
    this.schedule();
  }

  /** Resolves once everything queued so far is written. */
  async flush(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
    if (this.inserts.length === 0 && this.updates.length === 0 && this.progress.size === 0) return;
    this.flushing = this.write();
    try {
      await this.flushing;
    } finally {
      this.flushing = undefined;
    }
    if (this.inserts.length > 0 || this.updates.length > 0 || this.progress.size > 0) await this.flush();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flushTask);
  }

  private async write(): Promise<void> {
    const inserts = this.inserts;
    const updates = this.updates;
    const progress = this.progress;
    this.inserts = [];
    this.updates = [];
    this.progress = new Map();
    if (inserts.length > 0) {
      const all = inserts.length === 1 ? inserts[0].jobs : inserts.flatMap((i) => i.jobs);
      try {
        const results = await this.store.insert(all, this.now());
        let at = 0;
        for (const pending of inserts) {
          pending.resolve(results.slice(at, at + pending.jobs.length));
          at += pending.jobs.length;
        }
      } catch (error) {
        for (const pending of inserts) pending.reject(error);
      }
    }
    if (updates.length > 0 || progress.size > 0) {
      const batch = updates.map((u) => u.update);
      for (const [id, value] of progress) batch.push({ id, type: 'progress', progress: value });
      try {
        await this.store.settle(batch, this.now());
      } catch (error) {
        // The jobs stay running in the store under a lease that is no longer renewed: they will run again (at-least-once).
        const ids = updates.map((u) => u.update.id).join(', ');
        this.logger.error(`Job store ${this.store.description} could not record the outcome of jobs ${ids}; they will run again once their lease expires: ${describeError(error)}`);
      }
      for (const u of updates) u.done?.();
    }
  }
}
