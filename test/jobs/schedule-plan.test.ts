import { describe, expect, it } from 'vitest';
import { compileCron, loadCron } from '../../lib/jobs/cron.js';
import { MISFIRE_GRACE_MS, planTicks } from '../../lib/jobs/schedule-plan.js';
import type { StoredSchedule } from '../../lib/jobs/stores/job-store.js';

/** What a due schedule's ticks become, the rule that JobStore.fireDue applies in one step (lib/jobs/schedule-plan.ts). */
const Cron = await loadCron();
const everySecond = compileCron(Cron, 'test', '*/1 * * * * *', 'UTC');
const T = Date.parse('2025-01-06T00:00:00.000Z');

function schedule(extra: Partial<StoredSchedule> = {}): StoredSchedule {
  return {
    id: 's', cron: '*/1 * * * * *', tz: 'UTC', overlap: 'allow', misfire: 'once', source: 'call', name: 'n', queue: 'q', payload: '{"a":1}',
    priority: 2, maxAttempts: 3, options: '{"timeout":5}', nextRunAt: T, lastJobId: null, createdAt: 0, updatedAt: 0, ...extra,
  };
}

describe('planTicks', () => {
  it('on time: one job per due tick, timed at its tick, with the schedule’s job fields; next is the first tick after', () => {
    const plan = planTicks(schedule(), T + 2_500, false, everySecond);
    expect(plan.jobs.map((j) => j.runAt)).toEqual([T, T + 1_000, T + 2_000]);
    expect(plan.jobs[0]).toMatchObject({ name: 'n', queue: 'q', payload: '{"a":1}', key: null, priority: 2, maxAttempts: 3, options: '{"timeout":5}', createdAt: T + 2_500, trace: null });
    expect(new Set(plan.jobs.map((j) => j.id)).size).toBe(3);
    expect(plan).toMatchObject({ nextRunAt: T + 3_000, missed: 0, overlapped: 0 });
  });

  it('late by up to the grace is still on time; later, the ticks were missed', () => {
    expect(planTicks(schedule({ misfire: 'skip' }), T + MISFIRE_GRACE_MS, false, everySecond).jobs).toHaveLength(MISFIRE_GRACE_MS / 1_000 + 1);
    const missed = planTicks(schedule({ misfire: 'skip' }), T + MISFIRE_GRACE_MS + 1, false, everySecond);
    expect(missed).toMatchObject({ jobs: [], nextRunAt: T + MISFIRE_GRACE_MS + 1_000, missed: MISFIRE_GRACE_MS / 1_000 + 1 });
  });

  it("missed with misfire 'once': one job now for all of them; the count stops at 1000", () => {
    const now = T + 3_600_000 + 500;
    const plan = planTicks(schedule(), now, false, everySecond);
    expect(plan.jobs.map((j) => j.runAt)).toEqual([now]);
    expect(plan).toMatchObject({ nextRunAt: T + 3_601_000, missed: 1_000, overlapped: 0 });
  });

  it("overlap 'skip': nothing while the last job is active, and one job where several ticks are due", () => {
    expect(planTicks(schedule({ overlap: 'skip' }), T + 2_000, true, everySecond)).toMatchObject({ jobs: [], overlapped: 3, nextRunAt: T + 3_000 });
    const some = planTicks(schedule({ overlap: 'skip' }), T + 2_000, false, everySecond);
    expect(some.jobs.map((j) => j.runAt)).toEqual([T]);
    expect(some.overlapped).toBe(2);
    // A catch-up is an overlap like any tick.
    expect(planTicks(schedule({ overlap: 'skip' }), T + 60_000, true, everySecond)).toMatchObject({ jobs: [], overlapped: 1, missed: 61 });
  });

  it('parks a schedule whose cron this process cannot read', () => {
    const error = new TypeError('bad cron');
    expect(planTicks(schedule(), T, false, error)).toEqual({ jobs: [], nextRunAt: null, missed: 0, overlapped: 0, error });
  });

  it('ends a schedule whose cron has no later time', () => {
    const once = compileCron(Cron, 'test', '0 0 0 1 1 * 2030', 'UTC');
    const last = Date.parse('2030-01-01T00:00:00Z');
    expect(planTicks(schedule({ nextRunAt: last }), last, false, once)).toMatchObject({ jobs: [{ runAt: last }], nextRunAt: null });
  });
});
