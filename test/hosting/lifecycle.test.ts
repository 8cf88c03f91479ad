import { firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BackgroundHost,
  BackgroundService,
  HostedService,
  HostedServiceStartError,
  type BackgroundWorkModuleOptions,
} from 'nestjs-background-work';
import { createApp, gate, sleep, startApp, type TestApp } from '../support/create-app.js';

/** Each test's record of hook calls, in the order they happened. */
let calls: string[] = [];
let current: TestApp | undefined;

afterEach(async () => {
  await current?.app.close();
  current = undefined;
  calls = [];
});

function recorder(name: string) {
  return class implements HostedService {
    starting() {
      calls.push(`starting ${name}`);
    }
    async start() {
      calls.push(`start ${name}`);
    }
    started() {
      calls.push(`started ${name}`);
    }
    stopping() {
      calls.push(`stopping ${name}`);
    }
    async stop() {
      calls.push(`stop ${name}`);
    }
    stopped() {
      calls.push(`stopped ${name}`);
    }
  };
}

@HostedService({ order: 10 })
class Late extends recorder('late') {}
@HostedService()
class First extends recorder('first') {}
@HostedService()
class Second extends recorder('second') {}
@HostedService({ order: -5 })
class Early extends recorder('early') {}

async function run(options: BackgroundWorkModuleOptions, providers: any[]): Promise<TestApp> {
  current = await startApp(options, providers);
  return current;
}

describe('hosted services', () => {
  it('start by order then registration, phase by phase, and stop in reverse', async () => {
    const { app } = await run({}, [Late, First, Second, Early]);
    expect(calls).toEqual([
      'starting early', 'starting first', 'starting second', 'starting late',
      'start early', 'start first', 'start second', 'start late',
      'started early', 'started first', 'started second', 'started late',
    ]);
    expect(app.get(BackgroundHost).services().map((s) => [s.name, s.order, s.state])).toEqual([
      ['Early', -5, 'running'],
      ['First', 0, 'running'],
      ['Second', 0, 'running'],
      ['Late', 10, 'running'],
    ]);
    calls = [];
    await app.close();
    current = undefined;
    expect(calls).toEqual([
      'stopping late', 'stopping second', 'stopping first', 'stopping early',
      'stop late', 'stop second', 'stop first', 'stop early',
      'stopped late', 'stopped second', 'stopped first', 'stopped early',
    ]);
    expect(app.get(BackgroundHost).services().every((s) => s.state === 'stopped')).toBe(true);
  });

  it('start all at once with startConcurrently and stop all at once with stopConcurrently', async () => {
    const begun: string[] = [];
    let startGate = gate();
    let stopGate = gate();
    const make = (name: string) => {
      @HostedService()
      class Slow implements HostedService {
        async start() {
          begun.push(`start ${name}`);
          await startGate.promise;
        }
        async stop() {
          begun.push(`stop ${name}`);
          await stopGate.promise;
        }
      }
      return Slow;
    };

    const sequential = await createApp({}, [make('A'), make('B'), make('C')]);
    let init = sequential.app.init();
    await sleep(20);
    expect(begun).toEqual(['start A']);
    startGate.open();
    await init;
    let closing = sequential.app.close();
    await sleep(20);
    expect(begun).toEqual(['start A', 'start B', 'start C', 'stop C']);
    stopGate.open();
    await closing;

    begun.length = 0;
    startGate = gate();
    stopGate = gate();
    const concurrent = await createApp({ startConcurrently: true, stopConcurrently: true }, [make('A'), make('B'), make('C')]);
    init = concurrent.app.init();
    await sleep(20);
    expect(begun).toEqual(['start A', 'start B', 'start C']);
    startGate.open();
    await init;
    closing = concurrent.app.close();
    await sleep(20);
    expect(begun).toEqual(['start A', 'start B', 'start C', 'stop C', 'stop B', 'stop A']);
    stopGate.open();
    await closing;
  });

  it('rolls back the started services in reverse order when a start fails, and fails init with the name', async () => {
    @HostedService({ order: 1 })
    class Broken implements HostedService {
      async start() {
        calls.push('start broken');
        throw new Error('no database');
      }
      async stop() {
        calls.push('stop broken');
      }
    }
    @HostedService({ order: 2 })
    class Never extends recorder('never') {}
    const { app } = await createApp({}, [Broken, Never, First, Early]);
    const failure = await app.init().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(HostedServiceStartError);
    expect((failure as Error).message).toBe('Hosted service Broken failed to start: Error: no database');
    expect((failure as HostedServiceStartError).service).toBe('Broken');
    expect(calls).toEqual([
      'starting early', 'starting first', 'starting never',
      'start early', 'start first', 'start broken',
      'stopping first', 'stopping early', 'stop first', 'stop early', 'stopped first', 'stopped early',
    ]);
    const states = Object.fromEntries(app.get(BackgroundHost).services().map((s) => [s.name, s.state]));
    expect(states).toEqual({ Early: 'stopped', First: 'stopped', Broken: 'failed', Never: 'starting' });
    calls = [];
    await app.close();
    expect(calls).toEqual([]); // nothing is stopped twice
  });

  it('does not await execute(): an endless loop does not block init, and stop ends it', async () => {
    let turns = 0;
    @HostedService()
    class Spinner extends BackgroundService {
      protected async execute(signal: AbortSignal) {
        while (!signal.aborted) {
          turns++;
          await sleep(1);
        }
        calls.push('execute returned');
      }
    }
    const { app } = await run({}, [Spinner]);
    expect(turns).toBe(0);
    await sleep(30);
    expect(turns).toBeGreaterThan(0);
    expect(app.get(BackgroundHost).services()[0].state).toBe('running');
    await app.close();
    current = undefined;
    expect(calls).toEqual(['execute returned']);
  });

  it("under 'stop-app', a failing execute() marks the service failed, logs its name and stops the services", async () => {
    @HostedService()
    class Crasher extends BackgroundService {
      protected async execute() {
        await sleep(5);
        throw new Error('lost connection');
      }
    }
    const { app, logger } = await run({}, [Crasher, First]);
    const host = app.get(BackgroundHost);
    await firstValueFrom(host.stopped$);
    const states = Object.fromEntries(host.services().map((s) => [s.name, s.state]));
    expect(states).toEqual({ Crasher: 'failed', First: 'stopped' });
    expect((host.services()[0].error as Error).message).toBe('lost connection');
    expect(logger.messages('error')).toContain('Hosted service Crasher failed: Error: lost connection');
    expect(calls).toContain('stop first');
  });

  it("under 'log', a failing execute() is logged and the others keep running", async () => {
    @HostedService()
    class Crasher extends BackgroundService {
      protected async execute() {
        throw new Error('bad row');
      }
    }
    const { app, logger } = await run({ onServiceError: 'log' }, [Crasher, First]);
    await sleep(20);
    const states = Object.fromEntries(app.get(BackgroundHost).services().map((s) => [s.name, s.state]));
    expect(states).toEqual({ Crasher: 'failed', First: 'running' });
    expect(logger.messages('error')).toContain('Hosted service Crasher failed: Error: bad row');
    expect(calls).not.toContain('stop first');
  });

  it('abandons a stop() that ignores its signal at the deadline instead of hanging app.close()', async () => {
    @HostedService()
    class Stubborn implements HostedService {
      start() {}
      stop() {
        return new Promise<void>(() => {}); // never settles
      }
    }
    const { app, logger } = await run({ shutdownTimeout: 150 }, [Stubborn, First]);
    const began = Date.now();
    await app.close();
    current = undefined;
    expect(Date.now() - began).toBeLessThan(10_000);
    expect(logger.messages('error')).toContain('Hosted service Stubborn did not stop by the shutdown deadline (and 1000 ms of grace); its stop() was abandoned');
    expect(calls).toContain('stop first');
  });

  it('replays started$, stopping$ and stopped$ to late subscribers', async () => {
    const { app } = await run({}, []);
    const host = app.get(BackgroundHost);
    await expect(firstValueFrom(host.started$)).resolves.toBeUndefined();
    await app.close();
    current = undefined;
    await expect(firstValueFrom(host.stopping$)).resolves.toBeUndefined();
    await expect(firstValueFrom(host.stopped$)).resolves.toBeUndefined();
  });

  it('stopApplication() without shutdown hooks stops the services and drains, once, and says why', async () => {
    const { app, logger } = await run({}, [First]);
    const host = app.get(BackgroundHost);
    host.stopApplication('maintenance');
    host.stopApplication('again');
    await firstValueFrom(host.stopped$);
    expect(calls.filter((c) => c === 'stop first')).toHaveLength(1);
    expect(logger.messages('log')).toContain('Application stop requested: maintenance');
    expect(logger.messages('error').some((m) => m.includes('enableShutdownHooks'))).toBe(true);
  });

  it('warns once at bootstrap when no shutdown signal listener is installed', async () => {
    const { logger } = await run({}, []);
    await new Promise((resolve) => setImmediate(resolve)); // it looks once more after bootstrap, for standalone contexts
    expect(logger.messages('warn').filter((m) => m.includes('app.enableShutdownHooks()'))).toHaveLength(1);
  });

  it('rejects a hosted service without start and stop methods at bootstrap', async () => {
    @HostedService()
    class Incomplete {}
    const { app } = await createApp({}, [Incomplete]);
    await expect(app.init()).rejects.toThrow('Hosted service Incomplete must have start(signal) and stop(signal) methods');
  });
});
