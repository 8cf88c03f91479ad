import { afterEach, describe, expect, it } from 'vitest';
import { REDIS, deleteRedisKeys } from '../support/stores.js';
import { FixtureProcess, httpJson, killAll, startHttpFixture } from './fixture-process.js';

let prefix: string | undefined;
afterEach(async () => {
  await killAll();
  if (prefix !== undefined) await deleteRedisKeys(prefix);
  prefix = undefined;
});

const lines = (output: string, word: string): string[][] =>
  [...output.matchAll(new RegExp(`^${word} (.*)$`, 'gm'))].map((m) => m[1].split(' '));

async function until(check: () => Promise<boolean>, what: string, timeout: number): Promise<void> {
  const end = performance.now() + timeout;
  while (performance.now() < end) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Short locks so that a dead worker's jobs come back within seconds (the defaults take up to a minute). */
const LOCKS = { LOCK_MS: '2000', STALLED_MS: '1000' };

describe.skipIf(!REDIS)('bullmqStore across processes: three workers and a producer on one Redis', () => {
  it('SIGKILL of a worker mid-job: its jobs finish on the others after lockDuration + stalledInterval; none lost, duplicates only of what it ran', { timeout: 120_000 }, async () => {
    prefix = `bwproc-${process.pid}-${Date.now().toString(36)}`;
    const env = { REDIS_PREFIX: prefix, JOB_MS: '700', CONCURRENCY: '2', ...LOCKS };
    const producer = await startHttpFixture('durable-app', { ...env, ROLE: 'producer' });
    const workers = await Promise.all([1, 2, 3].map(() => startHttpFixture('durable-app', env)));
    const { status, body } = await httpJson(producer.port, 'POST', '/jobs', { count: 24 });
    expect(status).toBe(202);
    expect(body.ids).toHaveLength(24);
    const victim = workers[0].app;
    await victim.waitFor(/(^STARTED .*\n){2}/m);
    victim.signal('SIGKILL');
    expect((await victim.exited(10_000)).signal).toBe('SIGKILL');
    const killedAt = performance.now();
    const runningAtKill = lines(victim.output, 'STARTED')
      .map(([n]) => n)
      .filter((n) => !lines(victim.output, 'DONE').some(([d]) => d === n));
    expect(runningAtKill.length).toBeGreaterThan(0);

    await until(async () => (await httpJson(producer.port, 'GET', '/stats')).body.succeeded === 24, 'all 24 jobs to succeed', 60_000);
    expect((await httpJson(producer.port, 'GET', '/stats')).body).toMatchObject({ succeeded: 24, failed: 0, pending: 0, running: 0, scheduled: 0 });
    const others = workers.slice(1).map((w) => w.app.output);
    // The killed worker's jobs ran again elsewhere, as stalled (stalls 1), their attempt not charged.
    for (const n of runningAtKill) {
      expect(others.some((output) => lines(output, 'STARTED').some(([m, attempt, stalls]) => m === n && attempt === '1' && stalls === '1'))).toBe(true);
    }
    console.info(`bullmq scale-out: ${runningAtKill.length} jobs of the killed worker finished elsewhere within ${Math.round(performance.now() - killedAt)} ms of the kill (lockDuration 2000 + stalledInterval 1000)`);
    // Audit: every job done, none lost; a job done twice was running on the killed worker.
    const done = [victim.output, ...others].flatMap((output) => lines(output, 'DONE').map(([n]) => n));
    expect(new Set(done).size).toBe(24);
    for (const n of done.filter((m, i) => done.indexOf(m) !== i)) expect(runningAtKill).toContain(n);
    for (const w of [producer, ...workers.slice(1)]) w.app.signal('SIGTERM');
    for (const w of [producer, ...workers.slice(1)]) expect(await w.app.exited(20_000)).toMatchObject({ code: 0 });
  });

  it('SIGTERM of a worker with a job longer than its deadline: the job is handed back and finished by another, its attempt count unchanged', { timeout: 60_000 }, async () => {
    prefix = `bwproc-${process.pid}-${Date.now().toString(36)}`;
    const env = { REDIS_PREFIX: prefix, JOB_MS: '2500', CONCURRENCY: '1', ...LOCKS };
    const first = await startHttpFixture('durable-app', { ...env, SHUTDOWN_MS: '400' });
    const { body } = await httpJson(first.port, 'POST', '/jobs', { count: 1 });
    await first.app.waitFor(/^STARTED 0 1 0$/m);
    // Started only now, so that the job is the first worker's.
    const second = new FixtureProcess('durable-app', env);
    const secondPort = Number((await second.waitFor(/^READY (\d+)$/m))[1]);
    first.app.signal('SIGTERM');
    const exit = await first.app.exited(20_000);
    expect(exit.code).toBe(0);
    expect(first.app.output).toMatch(/handed back/);
    expect(first.app.output).not.toMatch(/^DONE 0$/m);
    // Attempt 1 again, not a stall: it went back to wait at once, uncharged.
    await second.waitFor(/^STARTED 0 1 0$/m, 10_000);
    await second.waitFor(/^DONE 0$/m, 10_000);
    await until(async () => (await httpJson(secondPort, 'POST', '/get', { id: body.ids[0] })).body?.state === 'succeeded', 'the record', 10_000);
    expect((await httpJson(secondPort, 'POST', '/get', { id: body.ids[0] })).body).toMatchObject({ state: 'succeeded', attempts: 1, stalls: 0 });
    second.signal('SIGTERM');
    expect(await second.exited(20_000)).toMatchObject({ code: 0 });
  });
});
