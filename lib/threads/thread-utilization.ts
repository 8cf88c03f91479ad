import { performance } from 'node:perf_hooks';

/** The shortest window `read()` measures over; a window is at most twice this when it is read that often. */
export const UTILIZATION_WINDOW_MS = 2_000;

interface Baseline {
  at: number;
  busy: number;
}

/**
 * The share of a pool's capacity in use over a recent window: thread-milliseconds occupied by tasks (from the
 * moment a task has a thread, or a thread starting up for it, until it settles) over `maxThreads` times the window.
 * A task counts while it runs, not only once it ends.
 *
 * Not Piscina 5's `utilization`, which divides a mean already in ms by 1000 again (0.001 for a busy thread) and
 * counts only finished tasks; nor the threads' event-loop utilization, which reads 1 for an idle Piscina thread
 * (it blocks in `Atomics.wait` for its next task).
 *
 * Two baselines taken as it is read: the window starts at the older one, so it is `UTILIZATION_WINDOW_MS` to twice
 * that when read at least that often (a dashboard's poll), and reaches back to the last baseline otherwise.
 */
export class ThreadUtilization {
  /** Thread-milliseconds occupied since the pool started, up to `since`. */
  private busy = 0;
  private occupied = 0;
  private since: number;
  private older: Baseline;
  private newer: Baseline;

  /** @param capacity the pool's `maxThreads`: one thread busy out of four reads 0.25 */
  constructor(private readonly capacity: number) {
    this.since = performance.now();
    this.older = this.newer = { at: this.since, busy: 0 };
  }

  /** Called whenever the number of tasks in flight changes. Up to `maxThreads` of them have a thread. */
  tasksInFlight(count: number): void {
    const now = performance.now();
    this.busy += this.occupied * (now - this.since);
    this.since = now;
    this.occupied = Math.min(count, this.capacity);
  }

  read(): number {
    const now = performance.now();
    const busy = this.busy + this.occupied * (now - this.since);
    if (now - this.newer.at >= UTILIZATION_WINDOW_MS) {
      this.older = this.newer;
      this.newer = { at: now, busy };
    }
    const elapsed = now - this.older.at;
    if (elapsed <= 0) return 0;
    return Math.min(Math.max((busy - this.older.busy) / (elapsed * this.capacity), 0), 1);
  }
}
