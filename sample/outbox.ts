import { Injectable } from '@nestjs/common';

export interface OutboxEvent {
  type: string;
  payload: Record<string, unknown>;
  at: Date;
}

/**
 * Events waiting to be published (the transactional-outbox pattern). In memory here; in a real app a database table
 * written in the same transaction as the change, so that a crash loses nothing.
 */
@Injectable()
export class Outbox {
  private readonly events: OutboxEvent[] = [];

  add(type: string, payload: Record<string, unknown>): void {
    this.events.push({ type, payload, at: new Date() });
  }

  /** Removes and returns up to `max` of the oldest events. */
  take(max: number): OutboxEvent[] {
    return this.events.splice(0, max);
  }

  get size(): number {
    return this.events.length;
  }
}
