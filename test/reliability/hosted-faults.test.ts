import { firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundHost, BackgroundService, HostedService, HostedServiceStartError } from 'nestjs-background-work';
import { createApp, sleep, startApp, type TestApp } from '../support/create-app.js';

let current: TestApp | undefined;
afterEach(async () => {
  await current?.app.close();
  current = undefined;
});

function states(app: TestApp['app']): Record<string, string> {
  return Object.fromEntries(app.get(BackgroundHost).services().map((s) => [s.name, s.state]));
}

@HostedService()
class Healthy implements HostedService {
  stops = 0;
  start() {}
  stop() {
    this.stops++;
  }
}

describe('hosted-service faults', () => {
  it.each([
    ['throws synchronously', () => {
      throw new Error('sync start');
    }, 'Error: sync start'],
    ['rejects', () => Promise.reject(new Error('async start')), 'Error: async start'],
    ['throws a non-Error', () => {
      throw 'just a string';
    }, 'a non-Error was thrown: just a string'],
  ])('a start() that %s fails init with the service name and stops nothing twice', async (_, start, text) => {
    @HostedService({ order: 1 })
    class Faulty implements HostedService {
      start = start;
      stop() {}
    }
    current = await createApp({}, [Healthy, Faulty]);
    const error = await current.app.init().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HostedServiceStartError);
    expect((error as Error).message).toBe(`Hosted service Faulty failed to start: ${text}`);
    expect(current.app.get(Healthy).stops).toBe(1);
    await current.app.close();
    expect(current.app.get(Healthy).stops).toBe(1);
    current = undefined;
  });

  it('a stop() that throws is logged with the name, marks the service failed, and the others still stop', async () => {
    @HostedService({ order: 1 })
    class BadStop implements HostedService {
      start() {}
      stop(): void {
        throw new Error('socket already closed');
      }
    }
    current = await startApp({}, [Healthy, BadStop]);
    const { app, logger } = current;
    await app.close();
    expect(logger.messages('error').join('\n')).toContain('Hosted service BadStop failed to stop: Error: socket already closed');
    expect(states(app)).toEqual({ Healthy: 'stopped', BadStop: 'failed' });
    expect(app.get(Healthy).stops).toBe(1);
    current = undefined;
  });

  it('an execute() that throws synchronously is caught, logged and marks the service failed', async () => {
    @HostedService()
    class SyncThrow extends BackgroundService {
      protected execute(): Promise<void> {
        throw new Error('not even a promise');
      }
    }
    current = await startApp({ onServiceError: 'log' }, [SyncThrow]);
    await sleep(20);
    expect(states(current.app)).toEqual({ SyncThrow: 'failed' });
    expect(current.logger.messages('error')).toContain('Hosted service SyncThrow failed: Error: not even a promise');
  });

  it('an execute() that returns at once leaves the service stopped, with a log line, and stop() still works', async () => {
    @HostedService()
    class OneShot extends BackgroundService {
      protected async execute() {}
    }
    current = await startApp({}, [OneShot]);
    await sleep(20);
    expect(states(current.app)).toEqual({ OneShot: 'stopped' });
    expect(current.logger.messages('log')).toContain("Hosted service OneShot's execute() returned; the service no longer runs");
  });

  it('an execute() that ignores its signal is abandoned at the deadline and named', async () => {
    @HostedService()
    class Deaf extends BackgroundService {
      protected async execute() {
        await new Promise(() => {}); // never looks at its signal
      }
    }
    current = await startApp({ shutdownTimeout: 100 }, [Deaf, Healthy]);
    const { app, logger } = current;
    await sleep(20); // execute() has begun
    const began = Date.now();
    await app.close();
    current = undefined;
    expect(Date.now() - began).toBeLessThan(10_000);
    expect(logger.messages('error')).toContain('Hosted service Deaf did not stop by the shutdown deadline (and 1000 ms of grace); its stop() was abandoned');
    expect(app.get(Healthy).stops).toBe(1);
  });

  it('stopApplication() during start-up is carried out once start-up is over', async () => {
    let host: BackgroundHost | undefined;
    @HostedService()
    class EarlyQuitter implements HostedService {
      constructor(private readonly background: BackgroundHost) {
        host = background;
      }
      async start() {
        this.background.stopApplication('config says no');
        await sleep(10);
      }
      stop() {}
    }
    current = await startApp({}, [EarlyQuitter]);
    await firstValueFrom(host!.stopped$);
    expect(states(current.app)).toEqual({ EarlyQuitter: 'stopped' });
    expect(current.logger.messages('log')).toContain('Application stop requested: config says no');
  });

  it('app.close() twice in a row stops everything once', async () => {
    current = await startApp({}, [Healthy]);
    const { app, logger } = current;
    await app.close();
    await app.close();
    current = undefined;
    expect(app.get(Healthy).stops).toBe(1);
    expect(logger.messages('log').filter((m) => m.startsWith('Background work stopped in'))).toHaveLength(1);
  });

  it('a starting() or stopping() hook that throws is a start failure or a logged stop fault', async () => {
    @HostedService()
    class BadHooks implements HostedService {
      start() {}
      stop() {}
      stopping() {
        throw new Error('stopping hook broke');
      }
    }
    current = await startApp({}, [BadHooks, Healthy]);
    const { app, logger } = current;
    await app.close();
    current = undefined;
    expect(logger.messages('error').join('\n')).toContain('Hosted service BadHooks failed in stopping(): Error: stopping hook broke');
    expect(app.get(Healthy).stops).toBe(1);

    @HostedService()
    class BadStarting implements HostedService {
      starting() {
        throw new Error('starting hook broke');
      }
      start() {}
      stop() {}
    }
    const failing = await createApp({}, [BadStarting]);
    await expect(failing.app.init()).rejects.toThrow('Hosted service BadStarting failed to start: Error: starting hook broke');
    await failing.app.close();
  });
});
