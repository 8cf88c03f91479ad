import { Logger } from '@nestjs/common';
import { LOG_CONTEXT } from '../background-work.constants.js';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
type Signal = (typeof SIGNALS)[number];
type Phase = 'running' | 'stopping' | 'stopped';
/** A second signal this soon after the first is the same keypress delivered twice, not a second request. */
const DUPLICATE_SIGNAL_MS = 500;
/** How long a raised signal holds the event loop open at most, should nothing handle it. */
const HOLD_MS = 10_000;

/**
 * Works beside Nest's shutdown hooks (`app.enableShutdownHooks()`). Nest removes its listeners once its shutdown has
 * run and re-raises the signal, which would kill the process by that signal; this guard catches the re-raised signal
 * and exits with `process.exitCode` instead (0, or 1 after a BackgroundService failed under 'stop-app'), as .NET
 * does. A signal that arrives while Nest still listens is Nest's to handle: the guard only logs that the shutdown
 * already runs, and tells the lifecycle about the first one (to cut a start short).
 */
export class ShutdownSignalGuard {
  private readonly logger = new Logger(LOG_CONTEXT);
  private readonly attached = new Set<Signal>();
  private receivedAt: number | undefined = undefined;
  private holding: NodeJS.Timeout | undefined = undefined;

  constructor(
    private readonly phase: () => Phase,
    private readonly onFirstSignal: () => void,
  ) {}

  /**
   * Listens beside every shutdown signal that something else (normally Nest) listens for. Safe to call again: a
   * standalone application context enables its hooks only after bootstrap. Returns whether shutdown hooks exist.
   */
  attach(): boolean {
    for (const signal of SIGNALS) {
      if (!this.attached.has(signal) && process.listenerCount(signal) > 0) {
        process.on(signal, this.onSignal);
        this.attached.add(signal);
      }
    }
    return SIGNALS.some((signal) => this.othersListen(signal));
  }

  /**
   * Sends the process a signal that Nest listens for, so that Nest runs its whole graceful shutdown. A signal is
   * delivered on a later turn, and signal listeners do not keep the event loop alive: a process with nothing else
   * to do would end before it, so a timer holds the loop until the shutdown begins (`shutdownBegan()`).
   */
  raise(): boolean {
    this.attach();
    const signal = SIGNALS.find((s) => this.othersListen(s));
    if (signal === undefined) return false;
    this.holding ??= setTimeout(() => {}, HOLD_MS);
    process.kill(process.pid, signal);
    return true;
  }

  /** The shutdown has begun: it keeps the loop alive by itself from here (its deadline timer). */
  shutdownBegan(): void {
    clearTimeout(this.holding);
    this.holding = undefined;
  }

  dispose(): void {
    this.shutdownBegan();
    for (const signal of this.attached) process.removeListener(signal, this.onSignal);
    this.attached.clear();
  }

  private othersListen(signal: Signal): boolean {
    return process.listenerCount(signal) > (this.attached.has(signal) ? 1 : 0);
  }

  private readonly onSignal = (signal: Signal): void => {
    if (this.phase() === 'stopped' && !this.othersListen(signal)) {
      // Nest has finished and re-raised the signal: end the process with its exit code rather than by the signal.
      this.dispose();
      process.exit();
    }
    if (this.receivedAt !== undefined) {
      // Ctrl+C under a launcher (nest start, npm) reaches the app twice at once: from the terminal and forwarded.
      if (Date.now() - this.receivedAt >= DUPLICATE_SIGNAL_MS) {
        this.logger.warn(`Received ${signal} again: already shutting down, the drain goes on until the shutdown deadline`);
      }
      return;
    }
    this.receivedAt = Date.now();
    this.onFirstSignal();
  };
}
