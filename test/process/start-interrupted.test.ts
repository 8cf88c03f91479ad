import { afterEach, describe, expect, it } from 'vitest';
import { FixtureProcess, killAll } from './fixture-process.js';

const MARGIN = 10_000;
const SHUTDOWN_TIMEOUT = 1_000;

afterEach(killAll);

// Nest waits for init before it runs a shutdown, so a start() still running when SIGTERM arrives would hold the
// process until SIGKILL. The start signal aborts on the first signal, and a start that ignores it is abandoned.
describe('SIGTERM while a hosted service is still starting (slow-start-app)', () => {
  it.each(['honour', 'ignore'])('a start() that %ss its signal: the started services stop and the process exits', { timeout: 60_000 }, async (mode) => {
    const app = new FixtureProcess('slow-start-app', { START_MODE: mode, SHUTDOWN_TIMEOUT: String(SHUTDOWN_TIMEOUT) });
    await app.waitFor(/^STARTING SlowStart$/m);
    app.signal('SIGTERM');
    const exit = await app.exited(2 * SHUTDOWN_TIMEOUT + MARGIN);
    console.info(`slow-start-app (${mode}): SIGTERM to exit ${exit.ms} ms (code ${exit.code})`);

    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(1); // bootstrap failed: the app never served
    expect(app.output).toMatch(/^INIT FAILED Hosted service SlowStart failed to start/m);
    const abandoned = /Hosted services still starting 1000 ms after shutdown began were abandoned: SlowStart/.test(app.output);
    expect(abandoned).toBe(mode === 'ignore');
    expect(app.output).toMatch(/^STOPPED Ready$/m); // rolled back
    expect(app.output).not.toMatch(/^STOPPED SlowStart$/m); // never started, never stopped
  });

  // DESIGN lifecycle 9: stopApplication() during start-up does what SIGTERM does.
  it.each(['honour', 'ignore'])('stopApplication() while a start() that %ss its signal runs: as SIGTERM, the started services stop and the process exits', { timeout: 60_000 }, async (mode) => {
    const app = new FixtureProcess('slow-start-app', { START_MODE: mode, SHUTDOWN_TIMEOUT: String(SHUTDOWN_TIMEOUT), STOP_APPLICATION_AFTER: '200' });
    await app.waitFor(/^STARTING SlowStart$/m);
    const exit = await app.exited(2 * SHUTDOWN_TIMEOUT + MARGIN);
    console.info(`slow-start-app (stopApplication, ${mode}): exit code ${exit.code}`);

    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(1);
    expect(app.output).toMatch(/Application stop requested during start-up: asked during start-up/);
    expect(app.output).toMatch(/^INIT FAILED Hosted service SlowStart failed to start/m);
    expect(/Hosted services still starting 1000 ms after shutdown began were abandoned: SlowStart/.test(app.output)).toBe(mode === 'ignore');
    expect(app.output).toMatch(/^STOPPED Ready$/m);
    expect(app.output).not.toMatch(/^STOPPED SlowStart$/m);
    // The first line of the stop names what began it.
    expect(app.output).toMatch(/Stopping background work \(stopApplication\(\): asked during start-up\)/);
  });
});
