/** A node of an `IntrusiveList`: the links live on the item itself. */
export interface Linked<T> {
  prev: T | undefined;
  next: T | undefined;
}

/**
 * A doubly-linked list whose links are fields of its items: O(1) add and remove with no allocation and no hashing.
 * On a hot path a Set or Map costs both, and their deletes leave holes that make V8 rehash again and again.
 */
export class IntrusiveList<T extends Linked<T>> {
  size = 0;
  private head: T | undefined = undefined;
  private tail: T | undefined = undefined;

  add(item: T): void {
    item.prev = this.tail;
    if (this.tail !== undefined) this.tail.next = item;
    else this.head = item;
    this.tail = item;
    this.size++;
  }

  delete(item: T): void {
    if (item.prev !== undefined) item.prev.next = item.next;
    else this.head = item.next;
    if (item.next !== undefined) item.next.prev = item.prev;
    else this.tail = item.prev;
    item.prev = item.next = undefined;
    this.size--;
  }

  /** A snapshot, oldest first: the caller may change the list while it walks this. */
  toArray(): T[] {
    const items: T[] = [];
    for (let item = this.head; item !== undefined; item = item.next) items.push(item);
    return items;
  }
}
