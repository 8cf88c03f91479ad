import type { Provider } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BackgroundJobs,
  Job,
  Recurring,
  memoryStore,
  sqliteStore,
  type BackgroundWorkModuleOptions,
  type JobContext,
  type JobHandler,
  type JobStore,
} from 'nestjs-background-work';
import { gate, startApp, type TestApp } from '../support/create-app.js';
import { DRIVERS, tempFolder } from '../support/stores.js';

/** Each run of a recurring handler: the job's name, its payload and when (fake clock) it ran. */
const runs: { name: string; payload: unknown; at: string }[] = [];
const apps: TestApp[] = [];
let folder: ReturnType<typeof tempFolder>;

const iso = (ms: number): string => new Date(ms).toISOString();
const T0 = Date.parse('2025-01-06T00:00:05.000Z');

beforeEach(() => {
  // setImmediate stays real: the group commit and the queues' wake-ups use it. The clock and its timers are fake.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: T0 });
  folder = tempFolder();
});

afterEach(async () => {
  for (const t of apps.splice(0).toReversed()) {
    const closing = t.app.close();
    await vi.runOnlyPendingTimersAsync();
    await closing;
  }
  vi.useRealTimers();
  folder.cleanup();
  runs.length = 0;
  release = gate();
});

/** Lets the real setImmediate turns (commits, claims, runs) and the fake zero-delay timers go round. */
async function settle(): Promise<void> {
  for (let i = 0; i < 8; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    await vi.advanceTimersByTimeAsync(0);
  }
}

async function advance(ms: number, step = 1_000): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    await vi.advanceTimersByTimeAsync(Math.min(step, ms - done));
    await settle();
  }
}

async function start(providers: Provider[], options: BackgroundWorkModuleOptions = {}): Promise<{ jobs: BackgroundJobs; t: TestApp }> {
  const t = await startApp({ store: memoryStore(), ...options }, providers);
  apps.push(t);
  await settle();
  return { jobs: t.app.get(BackgroundJobs), t };
}

async function stop(t: TestApp): Promise<void> {
  apps.splice(apps.indexOf(t), 1);
  const closing = t.app.close();
  await vi.advanceTimersByTimeAsync(0);
  await closing;
}

const record = (name: string) => (payload: unknown) => void runs.push({ name, payload, at: iso(Date.now()) });

@Recurring('*/10 * * * * *')
@Job('every-10s')
class Every10s implements JobHandler {
  run(payload: unknown): void {
    record('every-10s')(payload);
  }
}

@Recurring('0 0 9 * * *', { id: 'paris-9am', tz: 'Europe/Paris', payload: { city: 'paris' } })
@Recurring('0 0 9 * * *', { id: 'tokyo-9am', tz: 'Asia/Tokyo', payload: { city: 'tokyo' } })
@Job('morning-report')
class MorningReport implements JobHandler<{ city: string }> {
  run(payload: { city: string }): void {
    record('morning-report')(payload);
  }
}

let release = gate();
@Recurring('*/10 * * * * *', { overlap: 'skip' })
@Job('slow-sync')
class SlowSync implements JobHandler {
  async run(payload: unknown, ctx: JobContext): Promise<void> {
    record('slow-sync')(payload);
    await Promise.race([release.promise, new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))]);
  }
}

@Job('cleanup', { queue: 'maintenance', priority: 3 })
class Cleanup implements JobHandler<{ older: string }> {
  run(payload: { older: string }): void {
    record('cleanup')(payload);
  }
}

describe('@Recurring', () => {
  it('inserts one job per tick, each with the tick as its runAt, and lists its schedule under the job name', async () => {
    const { jobs } = await start([Every10s]);
    const [schedule] = await jobs.schedules();
    expect(schedule).toMatchObject({
      id: 'every-10s', cron: '*/10 * * * * *', tz: 'UTC', name: 'every-10s', queue: 'default', payload: {}, overlap: 'allow', misfire: 'once', source: 'decorator',
    });
    expect(schedule.nextRunAt?.toISOString()).toBe('2025-01-06T00:00:10.000Z');
    await advance(30_000);
    expect(runs).toEqual([
      { name: 'every-10s', payload: {}, at: '2025-01-06T00:00:10.000Z' },
      { name: 'every-10s', payload: {}, at: '2025-01-06T00:00:20.000Z' },
      { name: 'every-10s', payload: {}, at: '2025-01-06T00:00:30.000Z' },
    ]);
    const list = await jobs.list({ name: 'every-10s' });
    expect(list.map((j) => [j.runAt.toISOString(), j.state])).toEqual([
      ['2025-01-06T00:00:10.000Z', 'succeeded'],
      ['2025-01-06T00:00:20.000Z', 'succeeded'],
      ['2025-01-06T00:00:30.000Z', 'succeeded'],
    ]);
    expect((await jobs.schedules())[0].lastJobId).toBe(list[2].id);
  });

  it('reads the cron in each schedule’s time zone; several on one class, each with its id and payload', async () => {
    const { jobs } = await start([MorningReport]);
    expect((await jobs.schedules()).map((s) => [s.id, s.tz, s.nextRunAt?.toISOString(), s.payload])).toEqual([
      ['paris-9am', 'Europe/Paris', '2025-01-06T08:00:00.000Z', { city: 'paris' }],
      ['tokyo-9am', 'Asia/Tokyo', '2025-01-07T00:00:00.000Z', { city: 'tokyo' }],
    ]);
    await advance(25 * 3_600_000, 3_600_000);
    expect(runs).toEqual([
      { name: 'morning-report', payload: { city: 'paris' }, at: '2025-01-06T08:00:00.000Z' },
      { name: 'morning-report', payload: { city: 'tokyo' }, at: '2025-01-07T00:00:00.000Z' },
    ]);
  });

  it("follows daylight saving time: a time in the spring gap runs once at the gap's end, a repeated one runs once", async () => {
    @Recurring('0 30 2 * * *', { tz: 'Europe/Paris' })
    @Job('half-past-two')
    class HalfPastTwo implements JobHandler {
      run(): void {
        record('half-past-two')(null);
      }
    }
    vi.setSystemTime(Date.parse('2025-03-29T00:00:00Z'));
    const spring = await start([HalfPastTwo]);
    await advance(3 * 86_400_000, 3_600_000);
    // 02:30 CET (01:30Z) on the 29th; on the 30th 02:30 does not exist: 03:00 CEST (01:00Z); then 02:30 CEST (00:30Z).
    expect(runs.map((r) => r.at)).toEqual(['2025-03-29T01:30:00.000Z', '2025-03-30T01:00:00.000Z', '2025-03-31T00:30:00.000Z']);
    await stop(spring.t);
    runs.length = 0;
    vi.setSystemTime(Date.parse('2025-10-25T00:00:00Z'));
    await start([HalfPastTwo]);
    await advance(3 * 86_400_000, 3_600_000);
    // On the 26th 02:30 comes twice (CEST, then CET): once, at the first.
    expect(runs.map((r) => r.at)).toEqual(['2025-10-25T00:30:00.000Z', '2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z']);
  });

  it("with overlap: 'skip', inserts nothing while the last job is still pending or running", async () => {
    const { jobs, t } = await start([SlowSync]);
    await advance(10_000);
    expect(runs.map((r) => r.at)).toEqual(['2025-01-06T00:00:10.000Z']);
    await advance(20_000); // the ticks at :20 and :30 find it running
    expect(runs).toHaveLength(1);
    expect(t.logger.messages('debug').filter((m) => m.includes("still active (overlap 'skip')"))).toHaveLength(2);
    release.open();
    await settle();
    await advance(10_000);
    expect(runs.map((r) => r.at)).toEqual(['2025-01-06T00:00:10.000Z', '2025-01-06T00:00:40.000Z']);
    expect(await jobs.list({ name: 'slow-sync' })).toHaveLength(2);
  });

  it('fires nothing once shutdown has begun', async () => {
    const { t } = await start([Every10s]);
    await advance(10_000);
    expect(runs).toHaveLength(1);
    await stop(t);
    await advance(30_000);
    expect(runs).toHaveLength(1);
  });
});

describe('BackgroundJobs.schedule(), unschedule() and schedules()', () => {
  it('schedules a job by class or by name with its payload and options, replaces it by id, and unschedules it', async () => {
    const { jobs } = await start([Cleanup, Every10s], { queues: { maintenance: { concurrency: 1 } } });
    const made = await jobs.schedule('nightly-cleanup', '0 0 3 * * *', Cleanup, { older: '30d' }, { tz: 'America/New_York', overlap: 'skip', misfire: 'skip' });
    expect(made).toMatchObject({
      id: 'nightly-cleanup', cron: '0 0 3 * * *', tz: 'America/New_York', name: 'cleanup', queue: 'maintenance', payload: { older: '30d' },
      overlap: 'skip', misfire: 'skip', source: 'call',
    });
    expect(made.nextRunAt?.toISOString()).toBe('2025-01-06T08:00:00.000Z'); // 03:00 EST
    const byName = await jobs.schedule('quick', '*/5 * * * * *', 'cleanup', { older: '1d' }, { priority: 9, retry: 3 });
    expect(byName).toMatchObject({ name: 'cleanup', queue: 'maintenance', payload: { older: '1d' } });
    await advance(5_000);
    const [first] = await jobs.list({ name: 'cleanup' });
    expect(first).toMatchObject({ queue: 'maintenance', priority: 9, maxAttempts: 3, payload: { older: '1d' }, runAt: new Date('2025-01-06T00:00:10.000Z') });
    // The same timing again: the next tick stays; a new payload is taken.
    const again = await jobs.schedule('quick', '*/5 * * * * *', 'cleanup', { older: '2d' });
    expect(again.nextRunAt?.toISOString()).toBe('2025-01-06T00:00:15.000Z');
    expect(again.createdAt.getTime()).toBe(made.createdAt.getTime());
    await advance(5_000);
    expect(runs.filter((r) => r.name === 'cleanup').map((r) => r.payload)).toEqual([{ older: '1d' }, { older: '2d' }]);
    expect((await jobs.schedules()).map((s) => s.id)).toEqual(['every-10s', 'nightly-cleanup', 'quick']);
    expect(await jobs.unschedule('quick')).toBe(true);
    expect(await jobs.unschedule('quick')).toBe(false);
    await advance(20_000);
    expect(runs.filter((r) => r.name === 'cleanup')).toHaveLength(2);
  });

  it("refuses the id of a @Recurring of this process, for schedule() and unschedule()", async () => {
    const { jobs } = await start([Every10s]);
    await expect(jobs.schedule('every-10s', '* * * * *', 'x')).rejects.toThrow(
      new RangeError('BackgroundJobs.schedule(id): "every-10s" is the schedule of @Recurring on Every10s; give this one another id'),
    );
    await expect(jobs.unschedule('every-10s')).rejects.toThrow(
      new RangeError('BackgroundJobs.unschedule(id): "every-10s" is declared by @Recurring on Every10s; remove the decorator instead'),
    );
  });
});

describe.each(DRIVERS)('recurring jobs on sqliteStore(%s)', (driver) => {
  const store = (): JobStore => sqliteStore({ path: folder.file(), driver });

  it('fires each tick once with two applications on one file, and a restart neither skips nor repeats one', async () => {
    const a = await start([Every10s], { store: store() });
    const b = await start([Every10s], { store: store() });
    await advance(30_000);
    await stop(b.t);
    await advance(5_000); // :35
    await stop(a.t);
    vi.setSystemTime(Date.now() + 7_000); // down from :35 to :42: the tick at :40 is late by less than the grace, so it fires
    const c = await start([Every10s], { store: store() });
    await advance(12_000);
    const ticks = (await c.jobs.list({ name: 'every-10s' })).map((j) => j.runAt.toISOString());
    expect(ticks).toEqual(['2025-01-06T00:00:10.000Z', '2025-01-06T00:00:20.000Z', '2025-01-06T00:00:30.000Z', '2025-01-06T00:00:40.000Z', '2025-01-06T00:00:50.000Z']);
    expect(runs).toHaveLength(5);
  });

  it.each([
    ['once', 1],
    ['skip', 0],
  ] as const)("after downtime, misfire '%s' runs %i job for the missed ticks and goes on from the next", async (misfire, expected) => {
    @Recurring('*/10 * * * * *', { misfire })
    @Job('missable')
    class Missable implements JobHandler {
      run(): void {
        record('missable')(null);
      }
    }
    const first = await start([Missable], { store: store() });
    await advance(10_000); // :10 runs
    await stop(first.t);
    vi.setSystemTime(Date.parse('2025-01-06T00:01:03.000Z')); // :20 to 1:00 were missed (5 ticks)
    const second = await start([Missable], { store: store() });
    const missed = runs.slice(1);
    expect(missed.map((r) => r.at)).toEqual(expected === 1 ? ['2025-01-06T00:01:03.000Z'] : []);
    expect(second.t.logger.messages('warn')).toContainEqual(
      expect.stringContaining(`Schedule "missable" (*/10 * * * * *, UTC) missed 5 ticks while no process ran; misfire '${misfire}'`),
    );
    await advance(7_000); // 1:10
    expect(runs.map((r) => r.at).at(-1)).toBe('2025-01-06T00:01:10.000Z');
    expect(runs).toHaveLength(1 + expected + 1);
  });

  it('parks a stored schedule whose cron this process cannot read, and says so, instead of failing every poll', async () => {
    const writer = store();
    await writer.open({ owner: 'writer', pid: process.pid, hostname: 'h', now: T0 });
    await writer.upsertSchedule!(
      { id: 'from-elsewhere', cron: '0 0 * * * * * *', tz: 'UTC', overlap: 'allow', misfire: 'once', source: 'call', name: 'x', queue: 'default', payload: '{}', priority: 0, maxAttempts: 1, options: null, nextRunAt: T0 },
      T0,
    );
    await writer.close();
    const { jobs, t } = await start([Every10s], { store: store() });
    expect(t.logger.messages('error')).toContainEqual(
      expect.stringContaining('Schedule "from-elsewhere" (0 0 * * * * * *, UTC) cannot be read by this process and is parked with no next tick'),
    );
    await advance(10_000);
    expect((await jobs.schedules()).map((s) => [s.id, s.nextRunAt?.toISOString()])).toEqual([
      ['every-10s', '2025-01-06T00:00:20.000Z'],
      ['from-elsewhere', undefined],
    ]);
    expect(t.logger.messages('error')).toHaveLength(1);
    expect(runs).toHaveLength(1);
  });

  it('keeps a stored @Recurring in step with the code: a changed cron re-times it, a removed one is removed', async () => {
    @Recurring('*/10 * * * * *', { payload: { v: 1 } })
    @Job('evolving')
    class V1 implements JobHandler {
      run(): void {}
    }
    const first = await start([V1], { store: store() });
    await stop(first.t);
    @Recurring('0 * * * * *', { payload: { v: 2 } })
    @Job('evolving')
    class V2 implements JobHandler {
      run(): void {}
    }
    const second = await start([V2], { store: store() });
    expect((await second.jobs.schedules()).map((s) => [s.id, s.cron, s.payload, s.nextRunAt?.toISOString()])).toEqual([
      ['evolving', '0 * * * * *', { v: 2 }, '2025-01-06T00:01:00.000Z'],
    ]);
    await stop(second.t);
    @Job('evolving')
    class V3 implements JobHandler {
      run(): void {}
    }
    const third = await start([V3, Every10s], { store: store() });
    expect((await third.jobs.schedules()).map((s) => s.id)).toEqual(['every-10s']);
    expect(third.t.logger.messages('log')).toContain(
      `Removed the schedule "evolving" of job "evolving" from sqlite ${folder.file()}: no @Recurring of this process declares it any more`,
    );
    await stop(third.t);
    // A process that does not run the job leaves that job's schedules alone (another app may declare them).
    const other = await start([Cleanup], { store: store(), queues: { maintenance: {} } });
    expect((await other.jobs.schedules()).map((s) => s.id)).toEqual(['every-10s']);
  });
});
