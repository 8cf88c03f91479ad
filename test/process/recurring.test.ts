import { copyFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSqliteDriver } from '../../lib/jobs/stores/sqlite/sqlite-driver.js';
import { DRIVERS, tempFolder } from '../support/stores.js';
import { FixtureProcess, killAll } from './fixture-process.js';

afterEach(killAll);

/** The misfire grace of lib/jobs/schedule-plan.ts: a pause longer than it makes the ticks in it missed. */
const GRACE_MS = 5_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Row {
  id: string;
  runAt: number;
  state: string;
}

/** The `tick` jobs in the file, read with a driver of the test's own. */
async function tickJobs(driver: (typeof DRIVERS)[number], file: string): Promise<Row[]> {
  const db = (await loadSqliteDriver(driver)).open(file);
  try {
    return db
      .prepare("SELECT id, run_at, state FROM bw_jobs WHERE name = 'tick' ORDER BY run_at, id")
      .all()
      .map((r) => ({ id: r.id as string, runAt: Number(r.run_at), state: r.state as string }));
  } finally {
    db.close();
  }
}

/** The `RAN <id> <runAt>` lines of processes, as job ids. */
const ran = (...apps: FixtureProcess[]): string[] => apps.flatMap((app) => [...app.output.matchAll(/^RAN (\S+) \d+$/gm)].map((m) => m[1]));

async function stop(...apps: FixtureProcess[]): Promise<void> {
  for (const app of apps) app.signal('SIGTERM');
  for (const app of apps) expect(await app.exited(20_000)).toMatchObject({ code: 0, signal: null });
}

// One driver is enough here: the one-step fire is SQL that the contract suite runs on every driver.
describe.each(DRIVERS.slice(0, 1))('recurring jobs across processes (%s)', (driver) => {
  it('two processes on one file fire every tick once; after a pause, a restart fires one catch-up job with misfire once and none with skip', { timeout: 120_000 }, async () => {
    const folder = tempFolder();
    try {
      const db = folder.file();
      const env = { DB: db, SQLITE_DRIVER: driver };
      const a = new FixtureProcess('recurring-app', env);
      const b = new FixtureProcess('recurring-app', env);
      await Promise.all([a.waitFor(/^READY$/m), b.waitFor(/^READY$/m)]);
      // Several ticks with both running (each arms its own timer at every tick).
      const counted = ran(a, b).length;
      for (let i = 0; i < 100 && ran(a, b).length < counted + 8; i++) await sleep(100);
      expect(ran(a, b).length).toBeGreaterThanOrEqual(counted + 8);
      await stop(a, b);

      const first = await tickJobs(driver, db);
      const ticks = first.map((j) => j.runAt);
      console.info(`recurring: ${ticks.length} ticks with two processes, ${a.count(/^RAN /gm)} run by one and ${b.count(/^RAN /gm)} by the other`);
      // Every tick once: whole seconds, no two jobs for one, none missing from the first to the last.
      expect(ticks.every((t) => t % 1_000 === 0)).toBe(true);
      expect(new Set(ticks).size).toBe(ticks.length);
      expect((ticks.at(-1)! - ticks[0]) / 1_000 + 1).toBe(ticks.length);
      // Each ran once, in one of the two processes.
      expect(ran(a, b).toSorted()).toEqual(first.filter((j) => j.state === 'succeeded').map((j) => j.id).toSorted());
      expect(first.every((j) => j.state === 'succeeded' || j.state === 'pending')).toBe(true);
      const lastTick = ticks.at(-1)!;

      // No process runs for longer than the grace: the ticks in the pause are missed.
      await sleep(GRACE_MS + 2_000);
      const onceFile = folder.file('once.db');
      const skipFile = folder.file('skip.db');
      copyFileSync(db, onceFile);
      copyFileSync(db, skipFile);
      const once = new FixtureProcess('recurring-app', { ...env, DB: onceFile, MISFIRE: 'once' });
      const skip = new FixtureProcess('recurring-app', { ...env, DB: skipFile, MISFIRE: 'skip' });
      await Promise.all([once.waitFor(/^READY$/m), skip.waitFor(/^READY$/m)]);
      await Promise.all([once.waitFor(/(^RAN .*\n){3}/m), skip.waitFor(/(^RAN .*\n){2}/m)]);
      await stop(once, skip);

      for (const [mode, app, file] of [['once', once, onceFile], ['skip', skip, skipFile]] as const) {
        const booting = Number(app.output.match(/^BOOTING (\d+)$/m)![1]);
        const after = (await tickJobs(driver, file)).filter((j) => j.runAt > lastTick);
        const warning = app.output.match(/Schedule "tick" \(\*\/1 \* \* \* \* \*, UTC\) missed (\d+) ticks while no process ran; misfire '(\w+)': (.*); next tick/);
        expect(warning, `${mode}: the misfire is logged:\n${app.output}`).not.toBeNull();
        expect(Number(warning![1])).toBeGreaterThanOrEqual(GRACE_MS / 1_000);
        expect(warning![2]).toBe(mode);
        // 'once': one job for all the missed ticks, fired (and timed) when this process began to fire, run once.
        const catchUpId = /^one job (\S+) runs for them now$/.exec(warning![3])?.[1];
        expect(warning![3]).toBe(mode === 'once' ? `one job ${catchUpId} runs for them now` : 'none of them runs');
        const catchUp = after.filter((j) => j.id === catchUpId);
        expect(catchUp).toHaveLength(mode === 'once' ? 1 : 0);
        expect(catchUp.every((j) => j.runAt > booting)).toBe(true);
        expect(ran(app).filter((r) => r === catchUpId)).toHaveLength(mode === 'once' ? 1 : 0);
        // Every other job is a tick after this process began: none of the pause's ticks fired. Each tick once.
        const onTime = after.filter((j) => !catchUp.includes(j)).map((j) => j.runAt);
        expect(onTime.every((t) => t % 1_000 === 0 && t > booting), `${mode}: ${onTime.join(', ')} after ${booting}`).toBe(true);
        expect(onTime.length).toBeGreaterThanOrEqual(2);
        expect(new Set(onTime).size).toBe(onTime.length);
        expect((onTime.at(-1)! - onTime[0]) / 1_000 + 1).toBe(onTime.length);
      }
    } finally {
      folder.cleanup();
    }
  });
});
