/**
 * A growable ring buffer: O(1) push and shift at the tail and head, and O(1) unshift so that a retried item can
 * go back to the front. `Array.prototype.shift` is O(n) once an array leaves V8's fast path, which is exactly when
 * a backlog is large; this never moves the items it holds.
 */
export class Deque<T> {
  private buffer: (T | undefined)[];
  private head = 0;
  private size = 0;
  private mask: number;

  constructor(initialCapacity = 16) {
    let capacity = 16;
    while (capacity < initialCapacity) capacity *= 2;
    this.buffer = new Array<T | undefined>(capacity);
    this.mask = capacity - 1;
  }

  get length(): number {
    return this.size;
  }

  push(value: T): void {
    if (this.size === this.buffer.length) this.grow();
    this.buffer[(this.head + this.size) & this.mask] = value;
    this.size++;
  }

  unshift(value: T): void {
    if (this.size === this.buffer.length) this.grow();
    this.head = (this.head - 1) & this.mask;
    this.buffer[this.head] = value;
    this.size++;
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const value = this.buffer[this.head];
    this.buffer[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.size--;
    return value;
  }

  /** The head, left in place. */
  peek(): T | undefined {
    return this.size === 0 ? undefined : this.buffer[this.head];
  }

  /** Removes and returns every item, head first. */
  drain(): T[] {
    const items: T[] = [];
    for (let value = this.shift(); value !== undefined; value = this.shift()) items.push(value);
    return items;
  }

  private grow(): void {
    const old = this.buffer;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.size; i++) next[i] = old[(this.head + i) & this.mask];
    this.buffer = next;
    this.head = 0;
    this.mask = next.length - 1;
  }
}
