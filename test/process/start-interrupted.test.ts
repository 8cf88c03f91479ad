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
});
