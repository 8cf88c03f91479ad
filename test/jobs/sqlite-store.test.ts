import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteStore, type JobStore } from 'nestjs-background-work';
import { loadSqliteDriver, type SqliteDriver } from '../../lib/jobs/stores/sqlite/sqlite-driver.js';
import { sqliteStoreWithDriver } from '../../lib/jobs/stores/sqlite-store.js';
import type { NewJob } from '../../lib/jobs/stores/job-store.js';
import { DRIVERS, tempFolder } from '../support/stores.js';

const context = (owner = 'owner-1', pid = process.pid) => ({ owner, pid, hostname: 'test-host', now: Date.now() });

function newJob(id: string, extra: Partial<NewJob> = {}): NewJob {
  return { id, name: 'n', queue: 'q', payload: '{}', key: null, priority: 0, maxAttempts: 1, runAt: 0, createdAt: 0, options: null, trace: null, ...extra };
}

let folder: ReturnType<typeof tempFolder>;
const opened: JobStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close().catch(() => undefined);
  folder?.cleanup();
});

describe.each(DRIVERS)('sqliteStore on %s', (driver) => {
  async function open(options: { path?: string; leaseMs?: number; maxStalls?: number } = {}, owner = 'owner-1', pid = process.pid): Promise<JobStore> {
    const store = sqliteStore({ path: options.path ?? folder.file(), driver, leaseMs: options.leaseMs, maxStalls: options.maxStalls });
    await store.open(context(owner, pid));
    opened.push(store);
    return store;
  }

  it('claims by priority, then run time, then id, in batches sized to the request', async () => {
    folder = tempFolder();
    const store = await open();
    await store.insert([newJob('01A'), newJob('01B', { priority: 5 }), newJob('01C'), newJob('01D', { runAt: 10_000 })], 1_000);
    expect((await store.claim('q', ['n'], 2, 1_000)).map((j) => j.id)).toEqual(['01B', '01A']);
    expect((await store.claim('q', ['n'], 5, 1_000)).map((j) => j.id)).toEqual(['01C']);
    expect(await store.nextRunAt('q', ['n'])).toBe(10_000);
    expect((await store.claim('q', ['n'], 5, 10_000)).map((j) => [j.id, j.state, j.attempts])).toEqual([['01D', 'running', 1]]);
    expect(await store.claim('q', ['other'], 5, 10_000)).toEqual([]);
  });

  it('hands a dead process’s running jobs back at once (stalls + 1, the attempt not charged), and fails them past maxStalls', async () => {
    folder = tempFolder();
    const path = folder.file();
    // A "process" that died: its pid no longer exists on this host.
    const dead = await open({ path, maxStalls: 1 }, 'dead-owner', 2 ** 22 + 12345);
    await dead.insert([newJob('01A'), newJob('01B')], 0);
    await dead.claim('q', ['n'], 2, 0);
    const alive = await open({ path, maxStalls: 1 });
    const first = await alive.recover(Date.now());
    expect(first.requeued.map((j) => [j.id, j.state, j.stalls, j.attempts])).toEqual([
      ['01A', 'pending', 1, 0],
      ['01B', 'pending', 1, 0],
    ]);
    // Run again and orphaned again: past maxStalls 1, it fails with JobStalledError.
    const again = await open({ path, maxStalls: 1 }, 'dead-again', 2 ** 22 + 12346);
    await again.claim('q', ['n'], 1, 0);
    const second = await alive.recover(Date.now());
    expect(second.failed.map((j) => [j.id, j.state])).toEqual([['01A', 'failed']]);
    const failed = (await alive.get('01A'))!;
    expect(JSON.parse(failed.errors).at(-1)).toMatchObject({ name: 'JobStalledError' });
  });

  it('takes over a job whose lease expired in another live process', async () => {
    folder = tempFolder();
    const path = folder.file();
    const other = await open({ path, leaseMs: 1_000 }, 'other-owner');
    await other.insert([newJob('01A')], 0);
    await other.claim('q', ['n'], 1, 0);
    const me = await open({ path, leaseMs: 1_000 });
    expect((await me.recover(500)).requeued).toEqual([]);
    expect((await me.recover(Date.now() + 5_000)).requeued.map((j) => j.id)).toEqual(['01A']);
  });

  it('keeps one active job per key and queue', async () => {
    folder = tempFolder();
    const store = await open();
    const [a, b, c] = await store.insert([newJob('01A', { key: 'k' }), newJob('01B', { key: 'k' }), newJob('01C', { key: 'k', queue: 'other' })], 0);
    expect([a.created, b.created, b.job.id, c.created]).toEqual([true, false, '01A', true]);
  });

  it('refuses a file written by a newer schema, writing nothing', async () => {
    folder = tempFolder();
    const path = folder.file();
    const store = await open({ path });
    await store.close();
    const raw = (await loadSqliteDriver(driver)).open(path);
    raw.prepare("UPDATE bw_meta SET value = '99' WHERE key = 'schema_version'").run();
    raw.close();
    await expect(open({ path })).rejects.toThrow(`${path} has schema version 99, written by a newer release`);
  });

  it('fails to open a corrupt file, a missing folder and a read-only folder, naming the path', async () => {
    folder = tempFolder();
    const corrupt = folder.file('corrupt.db');
    writeFileSync(corrupt, 'this is not a database, just some text that is long enough to have a header'.repeat(100));
    await expect(open({ path: corrupt })).rejects.toThrow(corrupt);
    const missing = join(folder.dir, 'no-such-folder', 'jobs.db');
    await expect(open({ path: missing })).rejects.toThrow(`cannot open ${missing}: its folder`);
    const locked = join(folder.dir, 'locked');
    writeFileSync(join(folder.dir, 'x'), '');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(locked);
    chmodSync(locked, 0o500);
    try {
      // root ignores folder permissions: the test means something only for other users.
      if (process.getuid?.() !== 0) await expect(open({ path: join(locked, 'jobs.db') })).rejects.toThrow(join(locked, 'jobs.db'));
    } finally {
      chmodSync(locked, 0o700);
    }
  });

  it('rejects an insert the disk cannot take (SQLITE_FULL), storing none of it', async () => {
    folder = tempFolder();
    const path = folder.file();
    const real = await loadSqliteDriver(driver);
    let full = false;
    const fail = (): void => {
      if (full) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    };
    const failing: SqliteDriver = {
      name: 'disk-full',
      open(file) {
        const db = real.open(file);
        return {
          exec: (sql) => db.exec(sql),
          close: () => db.close(),
          prepare(sql) {
            const statement = db.prepare(sql);
            if (!sql.startsWith('INSERT INTO bw_jobs')) return statement;
            return {
              run: (...p) => (fail(), statement.run(...p)),
              get: (...p) => (fail(), statement.get(...p)),
              all: (...p) => (fail(), statement.all(...p)),
            };
          },
        };
      },
    };
    const store = sqliteStoreWithDriver({ path }, failing);
    await store.open(context());
    opened.push(store);
    await store.insert([newJob('01A')], 0);
    full = true;
    await expect(store.insert([newJob('01B'), newJob('01C')], 0)).rejects.toThrow(`sqlite store ${path} could not insert jobs (SQLITE_FULL)`);
    expect((await store.list({ limit: 10 })).map((j) => j.id)).toEqual(['01A']);
  });

  it('rejects calls after close with a clear error', async () => {
    folder = tempFolder();
    const store = await open();
    await store.close();
    await expect(store.get('x')).rejects.toThrow(/is closed/);
  });

  it('sweeps ended jobs past their retention', async () => {
    folder = tempFolder();
    const store = sqliteStore({ path: folder.file(), driver, retention: { succeeded: 1_000, failed: 1_000_000 } });
    await store.open(context());
    opened.push(store);
    await store.insert([newJob('01A'), newJob('01B')], 0);
    await store.claim('q', ['n'], 2, 0);
    await store.settle([{ id: '01A', type: 'succeeded', result: null }, { id: '01B', type: 'failed', error: { attempt: 1, name: 'E', message: 'm', at: 0 } }], 10);
    expect(await store.sweep(5_000)).toBe(1);
    expect((await store.list({ limit: 10 })).map((j) => j.id)).toEqual(['01B']);
  });
});

describe('sqliteStore options', () => {
  it('are checked at the call, naming the option', () => {
    expect(() => sqliteStore({} as never)).toThrow(new TypeError('sqliteStore options.path must be a non-empty string, got undefined'));
    expect(() => sqliteStore({ path: 'x', leaseMs: 5 })).toThrow(RangeError);
    expect(() => sqliteStore({ path: 'x', synchronous: 'off' as never })).toThrow(/synchronous/);
    expect(() => sqliteStore({ path: 'x', driver: 'sqlite3' as never })).toThrow(/driver/);
    expect(() => sqliteStore({ path: 'x', retention: { kept: 1 } as never })).toThrow(/unknown option "kept"/);
    expect(() => sqliteStore({ path: 'x', colour: 1 } as never)).toThrow(/unknown option "colour"/);
  });
});
