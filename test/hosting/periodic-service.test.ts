import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BackgroundHost, HostedService, PeriodicService, type PeriodicServiceOptions } from 'nestjs-background-work';
import { createApp, gate, startApp, type TestApp } from '../support/create-app.js';

let current: TestApp | undefined;
/** What the ticks saw: the fake clock's time at each start, and each end. */
let log: string[] = [];

beforeEach(() => {
  // setImmediate stays real: BackgroundService begins execute() on one, and Nest's init needs none of the faked ones.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'], now: 0 });
});

afterEach(async () => {
  const closing = current?.app.close();
  current = undefined;
  await vi.runAllTimersAsync();
  await closing;
  vi.useRealTimers();
  log = [];
});

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A PeriodicService whose tick runs `body` (by default: records the time). */
function periodic(options: PeriodicServiceOptions, body: (signal: AbortSignal, n: number) => Promise<void> | void = () => {}) {
  let n = 0;
  @HostedService()
  class Ticker extends PeriodicService {
    constructor() {
      super(options);
    }
    protected async tick(signal: AbortSignal): Promise<void> {
      const at = Math.round(performance.now());
      log.push(`tick ${++n} at ${at}`);
      await body(signal, n);
    }
  }
  return Ticker;
}

async function start(type: ReturnType<typeof periodic>, options: Parameters<typeof startApp>[0] = {}): Promise<InstanceType<ReturnType<typeof periodic>>> {
  current = await startApp(options, [type]);
  await turn(); // execute() begins on the next turn
  return current.app.get(type);
}

describe('PeriodicService', () => {
  it('ticks every period, the first one period after start by default', async () => {
    const service = await start(periodic({ every: 1_000 }));
    await vi.advanceTimersByTimeAsync(999);
    expect(log).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(log).toEqual(['tick 1 at 1000', 'tick 2 at 2000', 'tick 3 at 3000']);
    expect(service.stats()).toEqual({ ticks: 3, failures: 0, consecutiveFailures: 0, skipped: 0, running: false });
  });

  it('ticks at start with immediately: true', async () => {
    await start(periodic({ every: 500, immediately: true }));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(log).toEqual(['tick 1 at 0', 'tick 2 at 500', 'tick 3 at 1000']);
  });

  it('never overlaps: a tick that outlives its period delays the next, which runs at once and then back on the grid', async () => {
    // Tick 1 takes 2_500 ms: the ticks due at 2_000 and 3_000 coalesce into one at 3_500; then 4_000, 5_000.
    const service = await start(
      periodic({ every: 1_000 }, async (_signal, n) => {
        if (n === 1) await new Promise((resolve) => setTimeout(resolve, 2_500));
        log.push(`end ${n} at ${Math.round(performance.now())}`);
      }),
    );
    await vi.advanceTimersByTimeAsync(5_000);
    expect(log).toEqual(['tick 1 at 1000', 'end 1 at 3500', 'tick 2 at 3500', 'end 2 at 3500', 'tick 3 at 4000', 'end 3 at 4000', 'tick 4 at 5000', 'end 4 at 5000']);
    expect(service.stats()).toMatchObject({ ticks: 4, skipped: 1 });
  });

  it('logs a failing tick with the service name, counts it and goes on', async () => {
    const service = await start(
      periodic({ every: 100 }, (_signal, n) => {
        if (n === 2 || n === 3) throw new Error(`source down ${n}`);
      }),
    );
    await vi.advanceTimersByTimeAsync(400);
    expect(log).toHaveLength(4);
    expect(current!.logger.messages('error')).toEqual([
      'Periodic service Ticker: a tick failed (1 in a row): Error: source down 2',
      'Periodic service Ticker: a tick failed (2 in a row): Error: source down 3',
    ]);
    expect(service.stats()).toEqual({ ticks: 4, failures: 2, consecutiveFailures: 0, skipped: 0, running: false });
    expect(current!.app.get(BackgroundHost).services()[0].state).toBe('running');
  });

  it('gives up after maxConsecutiveFailures: the service fails and onServiceError applies', async () => {
    const service = await start(
      periodic({ every: 100, maxConsecutiveFailures: 2 }, () => {
        throw new Error('still down');
      }),
      { onServiceError: 'log' },
    );
    await vi.advanceTimersByTimeAsync(1_000);
    expect(log).toHaveLength(2);
    const [info] = current!.app.get(BackgroundHost).services();
    expect(info.state).toBe('failed');
    expect((info.error as Error).message).toBe('Periodic service Ticker gave up after 2 failing ticks in a row (maxConsecutiveFailures)');
    expect(((info.error as Error).cause as Error).message).toBe('still down');
    expect(service.stats()).toMatchObject({ ticks: 2, failures: 2, consecutiveFailures: 2 });
  });

  it('drains at shutdown: no new tick starts, the running one is waited for and its signal is not aborted', async () => {
    const finish = gate();
    let tickSignal: AbortSignal | undefined;
    await start(
      periodic({ every: 100 }, async (signal) => {
        tickSignal = signal;
        await finish.promise;
      }),
    );
    await vi.advanceTimersByTimeAsync(100);
    expect(log).toEqual(['tick 1 at 100']);
    const { app } = current!;
    current = undefined;
    let closed = false;
    const closing = app.close().then(() => (closed = true));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(closed).toBe(false);
    expect(tickSignal?.aborted).toBe(false);
    finish.open();
    await closing;
    expect(log).toEqual(['tick 1 at 100']);
    expect(app.get(BackgroundHost).services()[0].state).toBe('stopped');
  });

  it('aborts the running tick’s signal when the shutdown deadline passes, without counting a failure', async () => {
    const service = await start(
      periodic({ every: 100 }, (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))),
      { shutdownTimeout: 300 },
    );
    await vi.advanceTimersByTimeAsync(100);
    const { app, logger } = current!;
    current = undefined;
    const closing = app.close();
    await vi.advanceTimersByTimeAsync(299);
    expect(service.stats().running).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    await closing;
    expect(service.stats()).toEqual({ ticks: 1, failures: 0, consecutiveFailures: 0, skipped: 0, running: false });
    expect(logger.messages('error')).toEqual([]);
  });

  it('rejects bad options when Nest creates the service, naming the class', async () => {
    await expect(createApp({}, [periodic({ every: 0 })])).rejects.toThrow('PeriodicService Ticker options.every must be an integer from 1 to 2147483647, got 0');
    await expect(createApp({}, [periodic({ every: 10, immediately: 'yes' as never })])).rejects.toThrow(
      'PeriodicService Ticker options.immediately must be a boolean, got "yes"',
    );
  });
});
