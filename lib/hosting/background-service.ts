import type { HostedService } from './hosted-service.js';

const ignore = (): void => {};

/** Why a `BackgroundService`'s execute signal aborts: the application is stopping. */
export class ServiceStoppingError extends Error {
  override readonly name = 'AbortError';
  constructor() {
    super('The hosted service is stopping');
  }
}

/**
 * A long-running hosted service (.NET BackgroundService): `execute()` is launched after bootstrap, never awaited by
 * it, so a loop never blocks `app.listen()`. `stop()` aborts the execute signal and waits for `execute()` to return,
 * up to the shutdown deadline.
 */
export abstract class BackgroundService implements HostedService {
  private controller: AbortController | undefined;
  private task: Promise<void> | undefined;

  /** The work of the service. Return (or throw an AbortError) once `signal` aborts. */
  protected abstract execute(signal: AbortSignal): Promise<void>;

  /** The running `execute()`, once started: the host watches it for failure. */
  get executeTask(): Promise<void> | undefined {
    return this.task;
  }

  start(_signal: AbortSignal): Promise<void> | void {
    const controller = new AbortController();
    this.controller = controller;
    // setImmediate: execute() begins after bootstrap's microtasks, like .NET 10 running ExecuteAsync off the start path.
    this.task = new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
      controller.signal.aborted ? undefined : this.execute(controller.signal),
    );
    this.task.catch(ignore);
  }

  /** Aborts the execute signal and waits for `execute()` to return; the host abandons the wait at the deadline. */
  async stop(_signal: AbortSignal): Promise<void> {
    this.controller?.abort(new ServiceStoppingError());
    await this.task?.catch(ignore);
  }
}
