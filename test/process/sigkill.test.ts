import { afterEach, describe, expect, it } from 'vitest';
import { DRIVERS, tempFolder } from '../support/stores.js';
import { FixtureProcess, httpJson, killAll, startHttpFixture } from './fixture-process.js';

afterEach(killAll);

const lines = (output: string, word: string): string[][] =>
  [...output.matchAll(new RegExp(`^${word} (.*)$`, 'gm'))].map((m) => m[1].split(' '));

describe.each(DRIVERS)('SIGKILL with durable jobs (%s)', (driver) => {
  it('loses no acknowledged job: after a restart on the same file, orphans run again at once and the rest follow', { timeout: 90_000 }, async () => {
    const folder = tempFolder();
    try {
      const env = { DB: folder.file(), JOB_MS: '800', CONCURRENCY: '4', SQLITE_DRIVER: driver };
      const { app, port } = await startHttpFixture('durable-app', env);
      const { status, body } = await httpJson(port, 'POST', '/jobs', { count: 12 });
      expect(status).toBe(202);
      expect(body.ids).toHaveLength(12);
      // Four run; eight wait in the store.
      for (let i = 0; i < 4; i++) await app.waitFor(new RegExp(`(^STARTED .*\\n){${i + 1}}`, 'm'));
      app.signal('SIGKILL');
      const exit = await app.exited(10_000);
      expect(exit.signal).toBe('SIGKILL');
      const runningAtKill = lines(app.output, 'STARTED')
        .map(([n]) => n)
        .filter((n) => !lines(app.output, 'DONE').some(([d]) => d === n));
      expect(runningAtKill.length).toBeGreaterThan(0);

      const began = performance.now();
      const again = new FixtureProcess('durable-app', env);
      await again.waitFor(/^STARTED \d+ 1 1$/m, 20_000); // an orphan: attempt 1 again (not charged), stalls 1
      const recoveryMs = Math.round(performance.now() - began);
      console.info(`sigkill (${driver}): restart to first orphan running ${recoveryMs} ms (process start included)`);
      // Far below the 30 s lease: the dead owner's jobs were recovered at bootstrap, not at lease expiry.
      expect(recoveryMs).toBeLessThan(15_000);
      const secondPort = Number((await again.waitFor(/^READY (\d+)$/m))[1]);
      for (let i = 0; i < 300; i++) {
        const stats = (await httpJson(secondPort, 'GET', '/stats')).body;
        if (stats.pending + stats.running + stats.scheduled === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect((await httpJson(secondPort, 'GET', '/stats')).body).toMatchObject({ succeeded: 12, pending: 0, running: 0, failed: 0 });
      const done = [...lines(app.output, 'DONE'), ...lines(again.output, 'DONE')].map(([n]) => n);
      expect(new Set(done).size).toBe(12);
      // Only jobs running at the kill may have run twice.
      const twice = done.filter((n, i) => done.indexOf(n) !== i);
      for (const n of twice) expect(runningAtKill).toContain(n);
      expect(again.output).toMatch(/orphaned jobs? of a process that stopped while running them will run again/);
      again.signal('SIGTERM');
      expect(await again.exited(20_000)).toMatchObject({ code: 0 });
    } finally {
      folder.cleanup();
    }
  });
});
