import { Injectable } from '@nestjs/common';
import { ReplaySubject, type Observable } from 'rxjs';
import type { HostedService } from './hosted-service.js';

export type HostedServiceState = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface HostedServiceInfo {
  readonly name: string;
  readonly order: number;
  readonly state: HostedServiceState;
  readonly error?: unknown;
}

/** A discovered hosted service and where it is in its lifetime. */
export interface ServiceEntry {
  name: string;
  order: number;
  instance: HostedService;
  state: HostedServiceState;
  error?: unknown;
  /** Whether `start()` completed, so that `stop()` is owed. */
  started: boolean;
  /** The start-up step the service is in while one runs: what a start that never ends is named by. */
  step?: 'starting()' | 'start()' | 'started()';
}

/** Fires once and replays to late subscribers, then completes. */
function lifetimeEvent(): ReplaySubject<void> {
  return new ReplaySubject<void>(1);
}

/** The application's lifetime (.NET IHostApplicationLifetime): its events, its services, and a way to stop it. */
@Injectable()
export class BackgroundHost {
  private readonly startedEvent = lifetimeEvent();
  private readonly stoppingEvent = lifetimeEvent();
  private readonly stoppedEvent = lifetimeEvent();
  readonly started$: Observable<void> = this.startedEvent.asObservable();
  readonly stopping$: Observable<void> = this.stoppingEvent.asObservable();
  readonly stopped$: Observable<void> = this.stoppedEvent.asObservable();
  private readonly emitted = new Set<string>();
  private entries: ServiceEntry[] = [];
  private stopHandler: ((reason: unknown) => void) | undefined;
  private pendingStop: { reason: unknown } | undefined;

  /**
   * Asks the application to shut down gracefully, as SIGTERM would. Safe to call more than once and during
   * start-up (the stop then follows once start-up is over).
   */
  stopApplication(reason?: unknown): void {
    if (this.stopHandler === undefined) {
      this.pendingStop ??= { reason };
      return;
    }
    this.stopHandler(reason);
  }

  /** Every hosted service in start order, with its state (and error, once failed). */
  services(): ReadonlyArray<HostedServiceInfo> {
    return this.entries.map(({ name, order, state, error }) => (error === undefined ? { name, order, state } : { name, order, state, error }));
  }

  /** @internal */
  register(entries: ServiceEntry[]): void {
    this.entries = entries;
  }

  /** @internal the lifecycle takes stop requests once start-up is over; one made earlier is handed over now. */
  handleStops(handler: (reason: unknown) => void): void {
    this.stopHandler = handler;
    const pending = this.pendingStop;
    this.pendingStop = undefined;
    if (pending !== undefined) handler(pending.reason);
  }

  /** @internal */
  emit(event: 'started' | 'stopping' | 'stopped'): void {
    const subject = event === 'started' ? this.startedEvent : event === 'stopping' ? this.stoppingEvent : this.stoppedEvent;
    if (this.emitted.has(event)) return;
    this.emitted.add(event);
    subject.next();
    subject.complete();
  }
}
