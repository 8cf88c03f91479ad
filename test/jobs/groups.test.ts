import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundJobs, Job, type JobContext, type JobHandler } from 'nestjs-background-work';
import { sleep, startApp, type TestApp } from '../support/create-app.js';
import { STORE_CASES, tempFolder, type StoreCase } from '../support/stores.js';

/** What the handler saw: every attempt's start, and any moment two jobs of one group ran at once. */
const starts: { group: string | undefined; seq: number; attempt: number }[] = [];
const runningByGroup = new Map<string, number>();
let overlaps: string[] = [];
let running = 0;
let mostRunning = 0;

interface Step {
  seq: number;
  /** Fails its first attempt (the retry policy runs it again). */
  failOnce: boolean;
}

@Job('tenant-step', { queue: 'tenants', retry: { attempts: 3, backoff: 'fixed', delay: 15 } })
class TenantStep implements JobHandler<Step> {
  async run(step: Step, ctx: JobContext): Promise<void> {
    starts.push({ group: ctx.group, seq: step.seq, attempt: ctx.attempt });
    const group = ctx.group ?? '';
    const now = (runningByGroup.get(group) ?? 0) + 1;
    runningByGroup.set(group, now);
    if (ctx.group !== undefined && now > 1) overlaps.push(`${ctx.group} at seq ${step.seq}`);
    mostRunning = Math.max(mostRunning, ++running);
    try {
      await sleep(1 + (step.seq % 4));
      if (step.failOnce && ctx.attempt === 1) throw new Error(`step ${step.seq} fails once`);
    } finally {
      running--;
      runningByGroup.set(group, runningByGroup.get(group)! - 1);
    }
  }
}

let current: TestApp | undefined;
let folder: ReturnType<typeof tempFolder> | undefined;
let storeCase: StoreCase | undefined;
afterEach(async () => {
  await current?.app.close();
  current = undefined;
  if (folder !== undefined) await storeCase?.cleanup?.(folder.dir);
  storeCase = undefined;
  folder?.cleanup();
  folder = undefined;
  starts.length = 0;
  runningByGroup.clear();
  overlaps = [];
  running = 0;
  mostRunning = 0;
});

const GROUPS = ['tenant-a', 'tenant-b', 'tenant-c', 'tenant-d', 'tenant-e'];
const PER_GROUP = 12;

// The stores whose own workers fetch (bullmqStore: open-source BullMQ has no groups) refuse a group instead.
describe.each(STORE_CASES.filter((c) => c.delivers))('job groups on $label', (thisCase) => {
  it('refuses an enqueue with a group, naming the store, and stores nothing', async () => {
    storeCase = thisCase;
    folder = tempFolder();
    const store = thisCase.make(folder.dir);
    current = await startApp({ store, queues: { tenants: { concurrency: 8 } } }, [TenantStep]);
    const jobs = current.app.get(BackgroundJobs);
    expect(store.capabilities.groups).toBe(false);
    await expect(jobs.enqueue(TenantStep, { seq: 0, failOnce: false }, { group: 'tenant-a' })).rejects.toThrow(
      new TypeError(`BackgroundJobs.enqueue options.group: the job store ${store.description} does not run jobs in groups (memoryStore() and sqliteStore() do)`),
    );
    expect(await jobs.stats('tenants')).toMatchObject({ pending: 0, scheduled: 0, running: 0, succeeded: 0 });
  });
});

describe.each(STORE_CASES.filter((c) => !c.delivers))('job groups in a Nest app on $label', (thisCase) => {
  it('runs each group one at a time in enqueue order, retries included, while the other groups fill concurrency 8', { timeout: 60_000 }, async () => {
    storeCase = thisCase;
    folder = tempFolder();
    const store = thisCase.make(folder.dir);
    current = await startApp({ store, queues: { tenants: { concurrency: 8 } } }, [TenantStep]);
    const jobs = current.app.get(BackgroundJobs);
    // Interleaved across groups, as requests of many tenants arrive; a few jobs have no group at all.
    const requests: { job: typeof TenantStep; payload: Step; options?: { group: string } }[] = [];
    let seq = 0;
    for (let round = 0; round < PER_GROUP; round++) {
      for (const group of GROUPS) requests.push({ job: TenantStep, payload: { seq: seq++, failOnce: seq % 5 === 0 }, options: { group } });
      if (round % 4 === 0) requests.push({ job: TenantStep, payload: { seq: seq++, failOnce: false } });
    }
    const records = await jobs.enqueueMany(requests);
    expect(records[0].group).toBe('tenant-a');
    expect(records.filter((r) => r.group === undefined)).toHaveLength(3);

    await jobs.onIdle();
    expect(await jobs.stats('tenants')).toMatchObject({ succeeded: requests.length, failed: 0, pending: 0, running: 0, scheduled: 0 });
    expect(overlaps).toEqual([]);
    for (const group of GROUPS) {
      const mine = starts.filter((s) => s.group === group);
      const enqueued = requests.filter((r) => r.options?.group === group).map((r) => r.payload.seq);
      // Each job's attempts start before the next job of its group starts: the order of first starts is the
      // enqueue order, and a retried job's second attempt comes right after its first.
      expect(mine.filter((s) => s.attempt === 1).map((s) => s.seq)).toEqual(enqueued);
      const expected = enqueued.flatMap((s) => (requests.find((r) => r.payload.seq === s)!.payload.failOnce ? [s, s] : [s]));
      expect(mine.map((s) => s.seq)).toEqual(expected);
    }
    // The groups ran beside one another (each one alone could never have more than one running).
    expect(mostRunning).toBeGreaterThan(1);
    const detail = await jobs.get(records[1].id);
    expect(detail).toMatchObject({ group: 'tenant-b', state: 'succeeded' });
  });
});
