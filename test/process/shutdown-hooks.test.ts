import { afterEach, describe, expect, it } from 'vitest';
import { FixtureProcess, killAll } from './fixture-process.js';

const MARGIN = 10_000;
const NO_LISTENER = /No SIGTERM or SIGINT listener is installed: call app\.enableShutdownHooks\(\)/;

afterEach(killAll);

describe('shutdown hooks', () => {
  it('without enableShutdownHooks() bootstrap warns, and SIGTERM kills the process with its work', { timeout: 60_000 }, async () => {
    const app = new FixtureProcess('no-shutdown-hooks-app');
    await app.waitFor(NO_LISTENER);
    await app.waitFor(/^STARTED \d+$/m);

    app.signal('SIGTERM');
    const exit = await app.exited(MARGIN);
    console.info(`no-shutdown-hooks-app: SIGTERM to exit ${exit.ms} ms`);
    // Node's default action: nothing of the library ran.
    expect(exit).toMatchObject({ code: null, signal: 'SIGTERM' });
    expect(app.output).not.toMatch(/^DONE /m);
    expect(app.output).not.toMatch(/Background work stopped/);
    expect(app.count(new RegExp(NO_LISTENER.source, 'g'))).toBe(1);
  });

  it('a standalone app (createApplicationContext) drains its work on SIGTERM', { timeout: 60_000 }, async () => {
    const app = new FixtureProcess('standalone-app');
    await app.waitFor(/^STARTED 3$/m);
    app.signal('SIGTERM');
    const exit = await app.exited(10_000 + MARGIN);
    console.info(`standalone-app: SIGTERM to exit ${exit.ms} ms (code ${exit.code}, signal ${exit.signal})`);
    expect(app.output).toMatch(/^DONE 1$\n^DONE 2$\n^DONE 3$/m);
    expect(app.output).toMatch(/Background work stopped in \d+ ms/);
  });

  // createApplicationContext() runs onApplicationBootstrap before it returns, so enableShutdownHooks() comes after
  // bootstrap: the lifecycle must look for the listeners again, or it warns wrongly and the re-raised signal kills
  // the process (143) instead of a clean exit 0.
  it('a standalone app that enables shutdown hooks does not warn and exits 0 on SIGTERM', { timeout: 60_000 }, async () => {
    const app = new FixtureProcess('standalone-app');
    await app.waitFor(/^STARTED 3$/m);
    app.signal('SIGTERM');
    const exit = await app.exited(10_000 + MARGIN);
    expect(app.output).not.toMatch(NO_LISTENER);
    expect(exit).toMatchObject({ code: 0, signal: null });
  });

  // The same under onServiceError 'stop-app': stopApplication() must find the late hooks to raise the signal, so that
  // Nest's whole shutdown runs and the process exits 1.
  it('a standalone app whose BackgroundService fails exits 1 by itself', { timeout: 60_000 }, async () => {
    const app = new FixtureProcess('standalone-app', { FAIL_AFTER: '1500' });
    await app.waitFor(/Hosted service Poller failed/);
    const exit = await app.exited(10_000 + MARGIN);
    expect(exit).toMatchObject({ code: 1, signal: null });
    // The stop went through the re-raised SIGTERM, and its first line still names what began it (DESIGN lifecycle 7).
    expect(app.output).toMatch(/Stopping background work \(stopApplication\(\): Error: Hosted service Poller failed\); deadline 10000 ms/);
  });
});
