import { Deque } from './deque.js';

interface Prioritized {
  readonly priority: number;
}

/**
 * Items waiting to start: higher priority first, FIFO within one priority. One ring buffer per priority in use,
 * and the priorities in use kept sorted: a queue that never sets a priority has one bucket, so dispatch costs
 * what a plain deque costs.
 */
export class PendingQueue<T extends Prioritized> {
  private readonly buckets = new Map<number, Deque<T>>();
  /** Priorities with a bucket, highest first. Buckets are kept once made: a queue uses a handful of priorities. */
  private readonly order: number[] = [];
  private size = 0;
  /** The bucket of the highest priority, cached: the common case of a single priority skips the search. */
  private top: Deque<T> | undefined = undefined;

  get length(): number {
    return this.size;
  }

  push(item: T): void {
    this.bucket(item.priority).push(item);
    this.size++;
  }

  /** Back to the head of its priority (a retried item keeps its place). */
  unshift(item: T): void {
    this.bucket(item.priority).unshift(item);
    this.size++;
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    if (this.top !== undefined && this.top.length > 0) {
      this.size--;
      return this.top.shift();
    }
    for (const priority of this.order) {
      const bucket = this.buckets.get(priority)!;
      if (bucket.length > 0) {
        this.size--;
        return bucket.shift();
      }
    }
    return undefined;
  }

  /** Removes and returns every item, highest priority first. */
  drain(): T[] {
    const items: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) items.push(item);
    return items;
  }

  private bucket(priority: number): Deque<T> {
    let bucket = this.buckets.get(priority);
    if (bucket === undefined) {
      bucket = new Deque<T>();
      this.buckets.set(priority, bucket);
      let i = 0;
      while (i < this.order.length && this.order[i] > priority) i++;
      this.order.splice(i, 0, priority);
      this.top = this.buckets.get(this.order[0]);
    }
    return bucket;
  }
}
