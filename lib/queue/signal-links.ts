/**
 * One 'abort' listener per caller signal, however many items share it: a request's signal handed to every row of an
 * import would otherwise add a listener per item (Node warns past 10, and each removal is a linear search).
 */
export class SignalLinks<T> {
  private readonly links = new Map<AbortSignal, { items: Set<T>; onAbort: () => void }>();

  constructor(private readonly onAbort: (item: T, reason: unknown) => void) {}

  add(signal: AbortSignal, item: T): void {
    let link = this.links.get(signal);
    if (link === undefined) {
      const items = new Set<T>();
      const onAbort = (): void => {
        this.links.delete(signal);
        for (const each of items) this.onAbort(each, signal.reason);
      };
      link = { items, onAbort };
      this.links.set(signal, link);
      signal.addEventListener('abort', onAbort, { once: true });
    }
    link.items.add(item);
  }

  remove(signal: AbortSignal, item: T): void {
    const link = this.links.get(signal);
    if (link === undefined || !link.items.delete(item) || link.items.size > 0) return;
    this.links.delete(signal);
    signal.removeEventListener('abort', link.onAbort);
  }
}
