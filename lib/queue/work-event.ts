interface WorkEventBase {
  /** The queue's name. */
  queue: string;
  id: string;
  name?: string;
  /** The attempt the event belongs to; 0 before the first start. */
  attempt: number;
}

/** What `BackgroundQueue.events$` emits. Events are built only while somebody subscribes. */
export type WorkEvent =
  | (WorkEventBase & { type: 'enqueued' | 'started' | 'succeeded' })
  | (WorkEventBase & { type: 'progress'; value: number })
  | (WorkEventBase & { type: 'retrying'; error: unknown; delay: number })
  | (WorkEventBase & { type: 'failed'; error: unknown })
  | (WorkEventBase & { type: 'cancelled'; reason: unknown });

export type WorkEventType = WorkEvent['type'];
