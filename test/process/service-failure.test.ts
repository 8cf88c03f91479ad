import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { httpJson, killAll, startHttpFixture } from './fixture-process.js';

const MARGIN = 10_000;
const SHUTDOWN_TIMEOUT = 10_000; // as configured in service-failure-app

afterEach(killAll);

describe('a BackgroundService whose execute() fails after start-up (service-failure-app)', () => {
  it("with onServiceError 'stop-app' stops the app gracefully and exits 1", { timeout: 60_000 }, async () => {
    const { app } = await startHttpFixture('service-failure-app', { ON_SERVICE_ERROR: 'stop-app' });
    await app.waitFor(/^FAILING Poller$/m);
    const failedAt = performance.now();
    const exit = await app.exited(SHUTDOWN_TIMEOUT + MARGIN, failedAt);
    console.info(`service-failure-app (stop-app): failure to exit ${exit.ms} ms (one 800 ms item to drain)`);

    expect(exit).toMatchObject({ code: 1, signal: null });
    expect(app.output).toMatch(/Hosted service Poller failed: .*poller crashed/);
    expect(app.output).toMatch(/Application stop requested/);
    // The graceful path: the other service stopped, the work the poller handed off drained, the summary printed.
    expect(app.output).toMatch(/^STOPPED CacheWarmer$/m);
    expect(app.output).toMatch(/^DONE \d+$/m);
    expect(app.output).toMatch(/Background work stopped in \d+ ms: 2 hosted services stopped; work items: 1 succeeded/);
  });

  it("with onServiceError 'log' keeps running; SIGTERM then exits 0", { timeout: 60_000 }, async () => {
    const { app, port } = await startHttpFixture('service-failure-app', { ON_SERVICE_ERROR: 'log' });
    await app.waitFor(/Hosted service Poller failed: .*poller crashed/);
    await app.waitFor(/^DONE \d+$/m);
    await sleep(1_000);
    expect(app.running).toBe(true);
    const { body } = await httpJson(port, 'GET', '/services');
    expect(body).toEqual([
      { name: 'CacheWarmer', state: 'running' },
      { name: 'Poller', state: 'failed' },
    ]);
    expect(app.output).not.toMatch(/Application stop requested/);

    app.signal('SIGTERM');
    const exit = await app.exited(SHUTDOWN_TIMEOUT + MARGIN);
    console.info(`service-failure-app (log): SIGTERM to exit ${exit.ms} ms`);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(app.output).toMatch(/^STOPPED CacheWarmer$/m);
    expect(app.output).toMatch(/Background work stopped in \d+ ms/);
  });
});
