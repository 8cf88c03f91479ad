import type { Attempt } from './attempt.js';

/**
 * The attempts whose function has not returned yet, as an intrusive doubly-linked list: O(1) add and remove with no
 * allocation and no hashing on the dispatch path, where a Set costs both. Only shutdown walks it.
 */
export class ActiveAttempts {
  size = 0;
  private head: Attempt | undefined = undefined;
  private tail: Attempt | undefined = undefined;

  add(attempt: Attempt): void {
    attempt.prev = this.tail;
    if (this.tail !== undefined) this.tail.next = attempt;
    else this.head = attempt;
    this.tail = attempt;
    this.size++;
  }

  delete(attempt: Attempt): void {
    if (attempt.prev !== undefined) attempt.prev.next = attempt.next;
    else this.head = attempt.next;
    if (attempt.next !== undefined) attempt.next.prev = attempt.prev;
    else this.tail = attempt.prev;
    attempt.prev = attempt.next = undefined;
    this.size--;
  }

  /** A snapshot, oldest first: the caller may change the list while it walks this. */
  toArray(): Attempt[] {
    const attempts: Attempt[] = [];
    for (let a = this.head; a !== undefined; a = a.next) attempts.push(a);
    return attempts;
  }
}
