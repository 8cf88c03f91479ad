import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobStore } from '../../../lib/jobs/stores/job-store.js';
import { sqliteStore, sqliteStoreWithDriver } from '../../../lib/jobs/stores/sqlite-store.js';
import { loadSqliteDriver, type SqliteDriver } from '../../../lib/jobs/stores/sqlite/sqlite-driver.js';
import { SqliteJobStore } from '../../../lib/jobs/stores/sqlite/sqlite-job-store.js';
import { MIGRATIONS, SCHEMA_VERSION, migrate } from '../../../lib/jobs/stores/sqlite/sqlite-schema.js';
import { anError, context, DRIVERS, newJob } from './store-cases.js';

let dir = '';
const opened: JobStore[] = [];
beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'bw-'))));
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

const settings = { leaseMs: 30_000, maxStalls: 2, pollMs: 250, retention: { succeeded: 1, cancelled: 1, failed: 1 } };
/** A pid no process has (Linux pids stay below 2^22). */
const NO_SUCH_PID = 2 ** 22 + 17;

const path = (): string => join(dir, 'jobs.db');

describe.each(DRIVERS)('sqliteStore on %s', (driver) => {
  async function open(owner = 'owner-1', extra: Parameters<typeof context>[1] = {}, leaseMs = 30_000): Promise<JobStore> {
    const store = sqliteStore({ path: path(), driver, leaseMs });
    await store.open(context(owner, extra));
    opened.push(store);
    return store;
  }
  const raw = async () => (await loadSqliteDriver(driver)).open(path());

  it('opens in WAL mode at the latest schema version and records its owner; close removes the owner', async () => {
    const store = await open('owner-1', { now: 42 });
    expect(store.description).toBe(`sqlite ${path()}`);
    const db = await raw();
    try {
      expect(db.prepare('PRAGMA journal_mode').get()).toMatchObject({ journal_mode: 'wal' });
      expect(db.prepare("SELECT value FROM bw_meta WHERE key = 'schema_version'").get()).toMatchObject({ value: String(SCHEMA_VERSION) });
      expect(db.prepare('SELECT id, pid, hostname, started_at, heartbeat_at FROM bw_owners').all()).toMatchObject([
        { id: 'owner-1', pid: process.pid, hostname: 'test-host', started_at: 42, heartbeat_at: 42 },
      ]);
      await store.close();
      expect(db.prepare('SELECT count(*) AS n FROM bw_owners').get()).toMatchObject({ n: 0 });
    } finally {
      db.close();
    }
  });

  it('migrates a file forward through a list of migrations, keeping its rows, and refuses it afterwards to the older code, unchanged', async () => {
    const v1 = await open();
    await v1.insert([newJob('01A')], 0);
    await v1.close();
    const newer = SCHEMA_VERSION + 1;
    const next = [...MIGRATIONS, { version: newer, sql: "ALTER TABLE bw_jobs ADD COLUMN tag TEXT NOT NULL DEFAULT 'x'" }];
    const real = await loadSqliteDriver(driver);
    const nextStore = new SqliteJobStore({ path: path(), synchronous: 'normal', settings, migrations: next }, async () => real);
    await nextStore.open(context());
    expect((await nextStore.get('01A'))?.state).toBe('pending');
    await nextStore.close();
    const db = await raw();
    expect(db.prepare("SELECT value FROM bw_meta WHERE key = 'schema_version'").get()).toMatchObject({ value: String(newer) });
    expect(db.prepare('SELECT tag FROM bw_jobs').get()).toMatchObject({ tag: 'x' });
    db.close();
    const before = readFileSync(path());
    const old = sqliteStore({ path: path(), driver });
    await expect(old.open(context())).rejects.toThrow(
      `sqlite store ${path()} has schema version ${newer}, written by a newer release of nestjs-background-work; this one knows up to version ${SCHEMA_VERSION} and left the file untouched`,
    );
    expect(readFileSync(path()).equals(before)).toBe(true);
  });

  /** A file as an older release left it: its schema up to `version`, and rows written in that release's columns. */
  async function oldFile(version: number, rows: { id: string; state: string }[]): Promise<void> {
    const db = await raw();
    try {
      migrate(db, (fn) => fn(), path(), MIGRATIONS.filter((m) => m.version <= version));
      const insert = db.prepare(
        'INSERT INTO bw_jobs (id, name, queue, state, payload, key, priority, attempts, max_attempts, run_at, created_at, started_at, owner, lease_until) VALUES (?, ?, ?, ?, ?, NULL, 0, ?, 3, 0, 0, ?, ?, ?)',
      );
      for (const row of rows) {
        const running = row.state === 'running';
        insert.run(row.id, 'n', 'q', row.state, '{"a":1}', running ? 1 : 0, running ? 5 : null, running ? 'gone-owner' : null, running ? 10 : null);
      }
    } finally {
      db.close();
    }
  }

  it.each([1, 3])('migrates a file of schema version %i with rows in it to the latest version: schedules, groups, its jobs kept', async (version) => {
    await oldFile(version, [
      { id: '01A', state: 'pending' },
      { id: '01B', state: 'running' },
      { id: '01C', state: 'succeeded' },
    ]);
    const current = await open();
    expect(await current.get('01A')).toMatchObject({ state: 'pending', group: null });
    expect(await current.listSchedules!()).toEqual([]);
    // The running row of the dead owner is an orphan as before; jobs claim in their order; new ones may have groups.
    expect((await current.recover(100)).requeued.map((j) => j.id)).toEqual(['01B']);
    await current.insert([newJob('01D', { group: 'g' }), newJob('01E', { group: 'g' })], 100);
    expect((await current.claim('q', ['n'], 10, 100)).map((j) => [j.id, j.group])).toEqual([['01A', null], ['01B', null], ['01D', 'g']]);
    expect((await current.counts()).succeeded).toBe(1);
    const db = await raw();
    try {
      expect(db.prepare("SELECT value FROM bw_meta WHERE key = 'schema_version'").get()).toMatchObject({ value: String(SCHEMA_VERSION) });
      const names = db.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'bw_schedules%' OR name LIKE 'bw_jobs_group%' OR name = 'bw_jobs_pending' ORDER BY name").all();
      expect(names.map((r) => r.name)).toEqual(['bw_jobs_group_head', 'bw_jobs_group_held', 'bw_jobs_pending', 'bw_schedules', 'bw_schedules_due']);
    } finally {
      db.close();
    }
  });

  it('fails to open a corrupt file, a database of another app, a missing folder and a path under a file, naming the path', async () => {
    const corrupt = join(dir, 'random.db');
    writeFileSync(corrupt, randomBytes(8192));
    await expect(sqliteStore({ path: corrupt, driver }).open(context())).rejects.toThrow(`sqlite store ${corrupt} could not`);
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'not a database\n'.repeat(200));
    await expect(sqliteStore({ path: text, driver }).open(context())).rejects.toThrow(text);
    const foreign = join(dir, 'foreign.db');
    const db = (await loadSqliteDriver(driver)).open(foreign);
    db.exec('CREATE TABLE users (id INTEGER)');
    db.close();
    await expect(sqliteStore({ path: foreign, driver }).open(context())).rejects.toThrow(`sqlite store ${foreign} is a SQLite database but not a job store`);
    const missing = join(dir, 'no-such-folder', 'jobs.db');
    await expect(sqliteStore({ path: missing, driver }).open(context())).rejects.toThrow(
      `sqlite store cannot open ${missing}: its folder ${join(dir, 'no-such-folder')} does not exist`,
    );
    await expect(sqliteStore({ path: join(text, 'jobs.db'), driver }).open(context())).rejects.toThrow(`${text} is not a folder`);
  });

  it('rejects an insert and a settle that hit SQLITE_FULL, with the path and the driver error as cause, leaving nothing half-written', async () => {
    const real = await loadSqliteDriver(driver);
    let full: 'INSERT' | 'UPDATE' | undefined;
    const diskFull: SqliteDriver = {
      name: 'disk-full',
      open(file) {
        const db = real.open(file);
        return {
          exec: (sql) => db.exec(sql),
          close: () => db.close(),
          prepare(sql) {
            const statement = db.prepare(sql);
            const fail = (): void => {
              if (full !== undefined && sql.trimStart().startsWith(`${full} `)) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
            };
            return { run: (...p) => (fail(), statement.run(...p)), get: (...p) => statement.get(...p), all: (...p) => (fail(), statement.all(...p)) };
          },
        };
      },
    };
    const store = sqliteStoreWithDriver({ path: path() }, diskFull);
    await store.open(context());
    opened.push(store);
    await store.insert([newJob('01A'), newJob('01B')], 0);
    await store.claim('q', ['n'], 2, 0);
    full = 'INSERT';
    const insert = store.insert([newJob('01C', { key: 'k' }), newJob('01D')], 0);
    await expect(insert).rejects.toThrow(`sqlite store ${path()} could not insert jobs (SQLITE_FULL): database or disk is full`);
    expect((await insert.catch((error: Error) => error.cause)) as Error).toMatchObject({ code: 'SQLITE_FULL' });
    full = 'UPDATE';
    // The first update would apply, the second fails: the transaction takes both back.
    await expect(store.settle([{ id: '01A', type: 'succeeded', result: '1' }, { id: '01B', type: 'failed', error: anError(1) }], 1)).rejects.toThrow(
      `sqlite store ${path()} could not record the outcome of jobs (SQLITE_FULL)`,
    );
    full = undefined;
    expect((await store.list({ limit: 10 })).map((j) => [j.id, j.state])).toEqual([['01A', 'running'], ['01B', 'running']]);
    await store.settle([{ id: '01A', type: 'succeeded', result: '1' }], 2);
    expect((await store.get('01A'))?.state).toBe('succeeded');
  });

  it('shares one file between stores: what one inserts another claims, and settles of a job another owns are ignored', async () => {
    const a = await open('a');
    const b = await open('b');
    await a.insert([newJob('01A')], 0);
    const [claimed] = await b.claim('q', ['n'], 1, 0);
    expect(claimed.id).toBe('01A');
    await a.settle([{ id: '01A', type: 'succeeded', result: null }], 1);
    expect((await b.get('01A'))?.state).toBe('running');
    expect(await a.claim('q', ['n'], 1, 1)).toEqual([]);
  });

  it('knows dead owners: a pid of this host that is gone, our own pid from an earlier process, a stale heartbeat; and live ones', async () => {
    const me = await open('me', { hostname: hostname(), now: Date.now() });
    const now = Date.now();
    const claimAs = async (owner: string, extra: Parameters<typeof context>[1]): Promise<void> => {
      const other = await open(owner, { now, ...extra });
      await other.insert([newJob(`job-${owner}`)], 0);
      await other.claim('q', ['n'], 1, now);
    };
    await claimAs('gone-pid', { hostname: hostname(), pid: NO_SUCH_PID });
    await claimAs('other-host', { hostname: 'elsewhere', pid: NO_SUCH_PID });
    await claimAs('same-process', { hostname: hostname() });
    await claimAs('stale', { hostname: 'elsewhere', now: now - 60_000 });
    // Our pid, but the record says that process started long before this one: a predecessor (pid 1 in a container).
    const db = await raw();
    db.prepare("INSERT INTO bw_owners (id, pid, hostname, process_started_at, started_at, heartbeat_at) VALUES ('predecessor', ?, ?, 0, ?, ?)").run(process.pid, hostname(), now, now);
    await me.insert([newJob('job-predecessor')], 0);
    db.prepare("UPDATE bw_jobs SET state = 'running', owner = 'predecessor', lease_until = ?, attempts = 1 WHERE id = 'job-predecessor'").run(now + 30_000);
    const { requeued } = await me.recover(now);
    expect(requeued.map((j) => j.id)).toEqual(['job-gone-pid', 'job-predecessor', 'job-stale']);
    expect(db.prepare('SELECT id FROM bw_owners ORDER BY id').all().map((row) => row.id)).toEqual(['me', 'other-host', 'same-process']);
    db.close();
  });
});

describe('sqliteStore options and drivers', () => {
  it('are checked at the call, naming the option, and nothing is opened', () => {
    expect(() => sqliteStore(undefined as never)).toThrow(new TypeError('sqliteStore options must be an object, got undefined'));
    expect(() => sqliteStore({ path: '' })).toThrow(new TypeError('sqliteStore options.path must be a non-empty string, got ""'));
    expect(() => sqliteStore({ path: 'x', leaseMs: 5 })).toThrow(new RangeError('sqliteStore options.leaseMs must be an integer from 1000 to 2147483647, got 5'));
    expect(() => sqliteStore({ path: 'x', maxStalls: -1 })).toThrow(new RangeError('sqliteStore options.maxStalls must be an integer from 0 to 1000, got -1'));
    expect(() => sqliteStore({ path: 'x', pollInterval: 1.5 })).toThrow(/options\.pollInterval must be an integer/);
    expect(() => sqliteStore({ path: 'x', synchronous: 'off' as never })).toThrow(new RangeError("sqliteStore options.synchronous must be 'normal' or 'full', got \"off\""));
    expect(() => sqliteStore({ path: 'x', driver: 'sqlite3' as never })).toThrow(/options\.driver must be 'node:sqlite' or 'better-sqlite3' or 'libsql'/);
    expect(() => sqliteStore({ path: 'x', retention: { failed: -1 } })).toThrow(/options\.retention\.failed must be/);
    expect(() => sqliteStore({ path: 'x', lease: 1 } as never)).toThrow(/unknown option "lease"/);
    expect(() => sqliteStore({ path: join(tmpdir(), 'no-such-folder-bw', 'x.db') })).not.toThrow();
  });

  it('loads the driver it is told to, and says what is missing and how to install it', async () => {
    const [major, minor] = process.versions.node.split('.').map(Number);
    const builtIn = major > 22 || (major === 22 && minor >= 13);
    expect(DRIVERS.includes('node:sqlite')).toBe(builtIn);
    const nodeSqlite = await loadSqliteDriver('node:sqlite').then((d) => d.name, (error: Error) => error.message);
    expect(nodeSqlite).toBe(
      builtIn
        ? 'node:sqlite'
        : `sqliteStore: the SQLite driver "node:sqlite" is not available here: node:sqlite needs Node >= 22.13 (this is ${process.versions.node}) (use Node >= 22.13)`,
    );
    for (const name of DRIVERS) expect((await loadSqliteDriver(name)).name).toBe(name);
    expect((await loadSqliteDriver(undefined)).name).toBe(DRIVERS[0]);
  });
});
