import { firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BackgroundHost,
  HostedService,
  HostedServiceStartError,
  ServiceStoppingError,
  TimeoutError,
} from 'nestjs-background-work';
import { createApp, gate, sleep, startApp, type TestApp } from '../support/create-app.js';

/** Each test's record of what the services did, in order. */
let calls: string[] = [];
let current: TestApp | undefined;

afterEach(async () => {
  await current?.app.close();
  current = undefined;
  calls = [];
});

/** A service that records its steps; its start() takes `startMs` (or waits for its signal when `'signal'`). */
function service(name: string, order: number, start: number | 'signal' | 'never' = 0) {
  @HostedService({ order })
  class Recorded implements HostedService {
    startSignal: AbortSignal | undefined;
    async start(signal: AbortSignal) {
      this.startSignal = signal;
      calls.push(`start ${name}`);
      if (start === 'signal') {
        await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
      } else if (start === 'never') {
        await new Promise(() => {});
      } else if (start > 0) {
        await sleep(start);
      }
      calls.push(`started ${name}`);
    }
    stopping() {
      calls.push(`stopping ${name}`);
    }
    stop() {
      calls.push(`stop ${name}`);
    }
    stopped() {
      calls.push(`stopped ${name}`);
    }
  }
  Object.defineProperty(Recorded, 'name', { value: name });
  return Recorded;
}

async function initError(app: TestApp['app']): Promise<unknown> {
  return app.init().then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('stopApplication() during start-up (DESIGN lifecycle 9)', () => {
  it('aborts the start signal as SIGTERM does: a start that honours it fails bootstrap, and the started services are rolled back', async () => {
    const First = service('First', 0);
    const Waits = service('Waits', 1, 'signal');
    const Never = service('Never', 2);
    current = await createApp({}, [First, Waits, Never]);
    const { app, logger } = current;
    const init = initError(app);
    await sleep(20);
    expect(calls).toEqual(['start First', 'started First', 'start Waits']);
    app.get(BackgroundHost).stopApplication('config says no');
    const failure = await init;
    expect(failure).toBeInstanceOf(HostedServiceStartError);
    expect((failure as HostedServiceStartError).service).toBe('Waits');
    expect((failure as Error).cause).toBeInstanceOf(ServiceStoppingError);
    expect(app.get(Waits).startSignal?.reason).toBeInstanceOf(ServiceStoppingError);
    expect(calls).toEqual(['start First', 'started First', 'start Waits', 'stopping First', 'stop First', 'stopped First']);
    expect(logger.messages('log')).toContain('Application stop requested during start-up: config says no');
  });

  it('made before bootstrap (in a constructor), gives every start() an aborted signal, and the stop follows start-up', async () => {
    @HostedService()
    class QuitsEarly implements HostedService {
      signal: AbortSignal | undefined;
      constructor(host: BackgroundHost) {
        host.stopApplication('before bootstrap');
      }
      start(signal: AbortSignal) {
        this.signal = signal;
      }
      stop() {
        calls.push('stop QuitsEarly');
      }
    }
    current = await startApp({}, [QuitsEarly]);
    const { app } = current;
    expect(app.get(QuitsEarly).signal?.aborted).toBe(true);
    // Without shutdown hooks the stop runs once start-up is over (the app itself stays up until app.close()).
    await firstValueFrom(app.get(BackgroundHost).stopped$);
    expect(calls).toEqual(['stop QuitsEarly']);
    expect(current.logger.messages('log')[0]).toBe('Application stop requested during start-up: before bootstrap');
  });
});

describe('stopping() hooks and stopping$ (DESIGN lifecycle 9)', () => {
  it("run in .NET's order: every stopping() hook, then stopping$ emits, then every stop()", async () => {
    current = await startApp({}, [service('A', 0), service('B', 1)]);
    const host = current.app.get(BackgroundHost);
    host.stopping$.subscribe(() => calls.push('stopping$'));
    calls = [];
    await current.app.close();
    current = undefined;
    expect(calls).toEqual(['stopping B', 'stopping A', 'stopping$', 'stop B', 'stop A', 'stopped B', 'stopped A']);
  });
});

describe('startupTimeout (.NET HostOptions.StartupTimeout)', () => {
  it('fails bootstrap naming the service still starting, aborts its signal with a TimeoutError and rolls back the started ones in reverse', async () => {
    const A = service('A', 0);
    const B = service('B', 1);
    const Slow = service('Slow', 2, 'signal');
    const After = service('After', 3);
    current = await createApp({ startupTimeout: 100 }, [A, B, Slow, After]);
    const { app, logger } = current;
    const failure = await initError(app);
    expect(failure).toBeInstanceOf(HostedServiceStartError);
    expect((failure as HostedServiceStartError).service).toBe('Slow');
    expect((failure as Error).message).toBe(
      'Hosted service Slow failed to start: TimeoutError: Start-up took longer than the startupTimeout of 100 ms; still starting: Slow (in start())',
    );
    const reason = app.get(Slow).startSignal?.reason;
    expect(reason).toBeInstanceOf(TimeoutError);
    expect((reason as TimeoutError).timeout).toBe(100);
    expect(calls).toEqual(['start A', 'started A', 'start B', 'started B', 'start Slow', 'stopping B', 'stopping A', 'stop B', 'stop A', 'stopped B', 'stopped A']);
    const states = Object.fromEntries(app.get(BackgroundHost).services().map((s) => [s.name, s.state]));
    expect(states).toEqual({ A: 'stopped', B: 'stopped', Slow: 'failed', After: 'starting' });
    expect(logger.messages('error')).toContain(
      'Start-up took longer than the startupTimeout of 100 ms; still starting: Slow (in start()); stopping the 2 already started',
    );
    calls = [];
    await app.close();
    current = undefined;
    expect(calls).toEqual([]); // nothing is stopped twice
  });

  it('gives up a start() that ignores its signal a moment later, starts nothing after it, and stops it if it ends anyway', async () => {
    const done = gate();
    @HostedService({ order: 1 })
    class Deaf implements HostedService {
      async start() {
        calls.push('start Deaf');
        await done.promise;
        calls.push('started Deaf');
      }
      stop() {
        calls.push('stop Deaf');
      }
    }
    const A = service('A', 0);
    const After = service('After', 2);
    current = await createApp({ startupTimeout: 50 }, [A, Deaf, After]);
    const { app, logger } = current;
    const began = Date.now();
    const failure = await initError(app);
    // The timeout, then a 1 s grace for the start to honour its signal: generous bounds, the machine is shared.
    expect(Date.now() - began).toBeGreaterThanOrEqual(1_000);
    expect(Date.now() - began).toBeLessThan(10_000);
    expect((failure as HostedServiceStartError).service).toBe('Deaf');
    const rolledBack = ['start A', 'started A', 'start Deaf', 'stopping A', 'stop A', 'stopped A'];
    expect(calls).toEqual(rolledBack);
    done.open();
    await sleep(20);
    expect(calls).toEqual([...rolledBack, 'started Deaf', 'stop Deaf']);
    expect(logger.messages('warn')).toContain('Hosted service Deaf finished starting after start-up was given up; stopping it');
    expect(app.get(BackgroundHost).services().find((s) => s.name === 'Deaf')?.state).toBe('failed');
  });

  it('names every service still starting when they start concurrently, and the step each is in', async () => {
    @HostedService()
    class SlowHook implements HostedService {
      started() {
        return new Promise<void>(() => {});
      }
      start() {}
      stop() {
        calls.push('stop SlowHook');
      }
    }
    current = await createApp({ startupTimeout: 50, startConcurrently: true }, [service('X', 0, 'signal'), service('Y', 0, 'signal'), service('Quick', 0)]);
    const failure = await initError(current.app);
    expect((failure as HostedServiceStartError).service).toBe('X, Y');
    expect((failure as Error).message).toMatch(/^Hosted services X, Y failed to start: TimeoutError: .*still starting: X \(in start\(\)\), Y \(in start\(\)\)$/);
    expect(calls).toContain('stop Quick');

    calls = [];
    await current.app.close();
    current = await createApp({ startupTimeout: 50 }, [service('Z', 0), SlowHook]);
    const inHook = await initError(current.app);
    expect((inHook as Error).message).toContain('still starting: SlowHook (in started())');
    // Both had started: both are stopped.
    expect(calls).toEqual(['start Z', 'started Z', 'stopping Z', 'stop SlowHook', 'stop Z', 'stopped Z']);
  });

  it('does nothing to a start-up that ends in time, and none is the default', async () => {
    current = await startApp({ startupTimeout: 5_000 }, [service('A', 0, 20)]);
    expect(current.app.get(BackgroundHost).services()[0].state).toBe('running');
    await current.app.close();
    current = await startApp({}, [service('B', 0, 50)]);
    expect(current.app.get(BackgroundHost).services()[0].state).toBe('running');
  });
});
