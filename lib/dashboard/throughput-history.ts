import { performance } from 'node:perf_hooks';
import type { WorkEvent } from '../queue/work-event.js';

/** Minutes of history kept per queue. */
export const HISTORY_MINUTES = 60;
const MINUTE = 60_000;
/** Run times in buckets 5% wide, from 0.1 ms up: percentiles to within 5%, in a fixed 1.4 KB a minute. */
const GROWTH = 1.05;
const BUCKETS = 360;
/** Attempts whose start is remembered at most (a queue with that many running is past any dashboard's use). */
const MAX_STARTED = 100_000;

function bucketOf(ms: number): number {
  const tenths = ms * 10;
  return tenths <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(tenths) / Math.log(GROWTH)));
}

/** The middle of a bucket, in ms. */
function valueOf(bucket: number): number {
  return bucket === 0 ? 0.1 : GROWTH ** (bucket - 0.5) / 10;
}

function percentile(histogram: Uint32Array, total: number, p: number): number | null {
  if (total === 0) return null;
  const rank = Math.ceil(total * p);
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    seen += histogram[i];
    if (seen >= rank) return valueOf(i);
  }
  return valueOf(BUCKETS - 1);
}

interface Minute {
  /** Minutes since the epoch; a slot whose minute is not the one asked for is stale. */
  minute: number;
  succeeded: number;
  failed: number;
  runs: number;
  histogram: Uint32Array;
}

/** What the page draws for one queue: one entry a minute, oldest first, the last being the current minute. */
export interface QueueHistoryView {
  /** Epoch ms of the first minute. */
  from: number;
  succeeded: number[];
  failed: number[];
  /** Run time percentiles of the attempts that ended in each minute (ms), null for a minute without any. */
  p50: (number | null)[];
  p95: (number | null)[];
  /** Over the whole hour. */
  hour: { succeeded: number; failed: number; p50: number | null; p95: number | null };
}

/**
 * Throughput and run times of one queue over the last hour, a bucket a minute. Throughput comes from the queue's
 * own counters, sampled (what they moved since the last sample goes to the current minute): it costs nothing per
 * item. Run times come from the queue's events, which are only built while somebody listens: the dashboard listens
 * while a page is open, so percentiles cover the minutes somebody watched. Closures and jobs alike, since jobs run
 * through the queue; what this process saw since the dashboard started.
 */
export class QueueHistory {
  private readonly minutes: Minute[] = Array.from({ length: HISTORY_MINUTES }, () => ({ minute: -1, succeeded: 0, failed: 0, runs: 0, histogram: new Uint32Array(BUCKETS) }));
  /** Attempts running, by item id: when they started (`clock`). */
  private readonly started = new Map<string, number>();
  private counted: { succeeded: number; failed: number } | undefined = undefined;

  /**
   * @param clock monotonic ms, for run times; one read an event
   * @param origin what to add to `clock` for epoch ms, for the minutes (performance.timeOrigin by default)
   */
  constructor(
    private readonly clock: () => number = () => performance.now(),
    private readonly origin: number = performance.timeOrigin,
  ) {}

  private now(): number {
    return this.origin + this.clock();
  }

  /** The queue's counters of items ended for good, as `stats()` has them now: the first sample is the baseline. */
  sample(succeeded: number, failed: number): void {
    const last = this.counted;
    this.counted = { succeeded, failed };
    if (last === undefined) return;
    const slot = this.slot(this.now());
    slot.succeeded += Math.max(0, succeeded - last.succeeded);
    slot.failed += Math.max(0, failed - last.failed);
  }

  /** An event of the queue: every attempt that ends adds its run time. */
  observe(event: WorkEvent): void {
    switch (event.type) {
      case 'started':
        if (this.started.size >= MAX_STARTED) this.started.delete(this.started.keys().next().value!);
        this.started.set(event.id, this.clock());
        break;
      case 'succeeded':
      case 'failed':
      case 'retrying': {
        const at = this.started.get(event.id);
        if (at === undefined) break; // started before anybody listened
        this.started.delete(event.id);
        const ended = this.clock();
        const slot = this.slot(this.origin + ended);
        slot.histogram[bucketOf(ended - at)]++;
        slot.runs++;
        break;
      }
      case 'cancelled':
        this.started.delete(event.id);
        break;
    }
  }

  /** Nobody listens any more: attempts started so far will not be seen to end. */
  forgetStarted(): void {
    this.started.clear();
  }

  view(): QueueHistoryView {
    const current = Math.floor(this.now() / MINUTE);
    const hour = new Uint32Array(BUCKETS);
    const view: QueueHistoryView = { from: (current - HISTORY_MINUTES + 1) * MINUTE, succeeded: [], failed: [], p50: [], p95: [], hour: { succeeded: 0, failed: 0, p50: null, p95: null } };
    let runs = 0;
    for (let minute = current - HISTORY_MINUTES + 1; minute <= current; minute++) {
      const slot = this.minutes[minute % HISTORY_MINUTES];
      if (slot.minute !== minute) {
        view.succeeded.push(0);
        view.failed.push(0);
        view.p50.push(null);
        view.p95.push(null);
        continue;
      }
      view.succeeded.push(slot.succeeded);
      view.failed.push(slot.failed);
      view.p50.push(round(percentile(slot.histogram, slot.runs, 0.5)));
      view.p95.push(round(percentile(slot.histogram, slot.runs, 0.95)));
      view.hour.succeeded += slot.succeeded;
      view.hour.failed += slot.failed;
      runs += slot.runs;
      for (let i = 0; i < BUCKETS; i++) hour[i] += slot.histogram[i];
    }
    view.hour.p50 = round(percentile(hour, runs, 0.5));
    view.hour.p95 = round(percentile(hour, runs, 0.95));
    return view;
  }

  /** The current minute's bucket, emptied first if it last held an older minute. */
  private slot(now: number): Minute {
    const minute = Math.floor(now / MINUTE);
    const slot = this.minutes[minute % HISTORY_MINUTES];
    if (slot.minute !== minute) {
      slot.minute = minute;
      slot.succeeded = 0;
      slot.failed = 0;
      slot.runs = 0;
      slot.histogram.fill(0);
    }
    return slot;
  }
}

function round(ms: number | null): number | null {
  if (ms === null) return null;
  return ms < 10 ? Math.round(ms * 10) / 10 : Math.round(ms);
}
