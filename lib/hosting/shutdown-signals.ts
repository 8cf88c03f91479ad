import { Logger } from '@nestjs/common';
import { LOG_CONTEXT } from '../background-work.constants.js';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
type Signal = (typeof SIGNALS)[number];

/** Whether something (normally `app.enableShutdownHooks()`) listens for SIGTERM or SIGINT. */
export function hasShutdownHooks(): boolean {
  return SIGNALS.some((signal) => process.listenerCount(signal) > 0);
}

/**
 * Works beside Nest's shutdown hooks. Nest re-raises the signal once its shutdown has run, which kills the process
 * with that signal; this guard catches the re-raised signal and exits with `process.exitCode` instead (0, or 1 after
 * a BackgroundService failed under 'stop-app'), as .NET does. A signal that arrives while stopping is logged, and the
 * drain goes on until its deadline.
 */
export class ShutdownSignalGuard {
  private readonly logger = new Logger(LOG_CONTEXT);
  private readonly signals: Signal[];
  private received = false;

  constructor(
    private readonly phase: () => 'running' | 'stopping' | 'stopped',
    private readonly onFirstSignal: () => void,
  ) {
    this.signals = SIGNALS.filter((signal) => process.listenerCount(signal) > 0);
    for (const signal of this.signals) process.on(signal, this.onSignal);
  }

  /** Sends the process the signal that Nest listens for, so that Nest runs its whole graceful shutdown. */
  raise(): boolean {
    const signal = this.signals.find((s) => process.listenerCount(s) > 1);
    if (signal === undefined) return false;
    process.kill(process.pid, signal);
    return true;
  }

  dispose(): void {
    for (const signal of this.signals) process.removeListener(signal, this.onSignal);
  }

  private readonly onSignal = (signal: Signal): void => {
    const phase = this.phase();
    if (phase === 'stopped') {
      this.dispose();
      process.exit();
    }
    if (this.received || phase === 'stopping') {
      this.logger.warn(`Received ${signal} again: already shutting down, the drain goes on until the shutdown deadline`);
      return;
    }
    // The first signal: Nest's own listener runs the shutdown; the lifecycle only needs to know (to cut a start short).
    this.received = true;
    this.onFirstSignal();
  };
}
