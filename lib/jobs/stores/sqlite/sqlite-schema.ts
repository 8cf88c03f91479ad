import type { SqliteDatabase } from './sqlite-driver.js';
import { SqliteStoreError } from './errors.js';

/**
 * The schema, as a list of forward migrations. A file records the version it is at in `meta`; open() applies the
 * ones above it in one transaction, and refuses a file that a newer release wrote rather than guess at its layout.
 * Tables are prefixed (bw_) so that the file may be shared with an app's own tables. Times are epoch milliseconds; payload, result, errors and options are JSON text, kept as given.
 */

export interface Migration {
  version: number;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE bw_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE bw_jobs (
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        queue TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('scheduled', 'pending', 'running', 'succeeded', 'failed', 'cancelled')),
        payload TEXT NOT NULL,
        key TEXT,
        priority INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        stalls INTEGER NOT NULL DEFAULT 0,
        run_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER,
        progress REAL,
        result TEXT,
        errors TEXT NOT NULL DEFAULT '[]',
        options TEXT,
        trace TEXT,
        owner TEXT,
        lease_until INTEGER,
        cancel_requested INTEGER NOT NULL DEFAULT 0
      );
      -- One partial index per hot state, so each stays as small as the work in that state. name trails the claim
      -- and schedule indexes so that a name filter is read from the index, not from the rows.
      CREATE INDEX bw_jobs_pending ON bw_jobs (queue, priority DESC, run_at, id, name) WHERE state = 'pending';
      CREATE INDEX bw_jobs_scheduled ON bw_jobs (queue, run_at, name) WHERE state = 'scheduled';
      CREATE INDEX bw_jobs_running ON bw_jobs (owner, lease_until) WHERE state = 'running';
      -- state leads so that the sweep deletes one state's expired rows by a range; queue trails so that counts of
      -- one queue read the index alone.
      CREATE INDEX bw_jobs_ended ON bw_jobs (state, finished_at, queue) WHERE state IN ('succeeded', 'failed', 'cancelled');
      CREATE UNIQUE INDEX bw_jobs_active_key ON bw_jobs (queue, key) WHERE key IS NOT NULL AND state IN ('scheduled', 'pending', 'running');
      CREATE TABLE bw_owners (
        id TEXT PRIMARY KEY,
        pid INTEGER NOT NULL,
        hostname TEXT NOT NULL,
        -- When the process started (not the open): tells a predecessor that had the same pid (pid 1 in a container).
        process_started_at INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL
      );
    `,
  },
  {
    // Recurring schedules: one row per schedule id, the job it inserts at each tick, and its next tick. Version 2
    // was set aside for job groups by a change that did not land; groups are version 4. Each migration stands alone.
    version: 3,
    sql: `
      CREATE TABLE bw_schedules (
        id TEXT PRIMARY KEY,
        cron TEXT NOT NULL,
        tz TEXT NOT NULL,
        overlap TEXT NOT NULL CHECK (overlap IN ('allow', 'skip')),
        misfire TEXT NOT NULL CHECK (misfire IN ('skip', 'once')),
        source TEXT NOT NULL CHECK (source IN ('decorator', 'call')),
        name TEXT NOT NULL,
        queue TEXT NOT NULL,
        payload TEXT NOT NULL,
        priority INTEGER NOT NULL,
        max_attempts INTEGER NOT NULL,
        options TEXT,
        next_run_at INTEGER,
        last_job_id TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      -- What is due, and the earliest next tick, are read from this index alone.
      CREATE INDEX bw_schedules_due ON bw_schedules (next_run_at) WHERE next_run_at IS NOT NULL;
    `,
  },
  {
    // Job groups (see JobStore.claim): grp names the group, grp_held marks the job that holds it (set by the claim
    // of a grouped job, cleared by retry(); read only while the job is active).
    version: 4,
    sql: `
      ALTER TABLE bw_jobs ADD COLUMN grp TEXT;
      ALTER TABLE bw_jobs ADD COLUMN grp_held INTEGER NOT NULL DEFAULT 0;
      -- The claim reads grp from its index, so that a job with no group costs no read of its row to pass.
      DROP INDEX bw_jobs_pending;
      CREATE INDEX bw_jobs_pending ON bw_jobs (queue, priority DESC, run_at, id, name, grp) WHERE state = 'pending';
      -- Both hold grouped rows only: empty, and never written, while no job has a group.
      CREATE INDEX bw_jobs_group_head ON bw_jobs (queue, grp, priority DESC, run_at, id) WHERE state = 'pending' AND grp IS NOT NULL;
      CREATE INDEX bw_jobs_group_held ON bw_jobs (queue, grp) WHERE grp_held = 1 AND state IN ('scheduled', 'pending', 'running');
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/** 0 for an empty file; throws for a database that is not a job store (its tables are someone else's). */
export function readSchemaVersion(db: SqliteDatabase, path: string): number {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all();
  if (tables.length === 0) return 0;
  if (!tables.some((table) => table.name === 'bw_meta')) {
    throw new SqliteStoreError(`sqlite store ${path} is a SQLite database but not a job store (it has no bw_meta table); use another file`);
  }
  const row = db.prepare("SELECT value FROM bw_meta WHERE key = 'schema_version'").get();
  const version = Number(row?.value);
  if (!Number.isInteger(version) || version < 1) {
    throw new SqliteStoreError(`sqlite store ${path} has no readable schema version (bw_meta.schema_version is ${String(row?.value)})`);
  }
  return version;
}

export function newerSchemaError(path: string, found: number, known: number): Error {
  return new SqliteStoreError(
    `sqlite store ${path} has schema version ${found}, written by a newer release of nestjs-background-work; this one knows up to version ${known} and left the file untouched`,
  );
}

/** Applies the migrations above the file's version in one transaction, so a crash midway leaves the old version. */
export function migrate(
  db: SqliteDatabase,
  transaction: <T>(fn: () => T) => T,
  path: string,
  migrations: readonly Migration[] = MIGRATIONS,
): number {
  const latest = migrations[migrations.length - 1].version;
  return transaction(() => {
    // Read again under the write lock: another process may have migrated since the check before it.
    const current = readSchemaVersion(db, path);
    if (current > latest) throw newerSchemaError(path, current, latest);
    if (current === latest) return current;
    for (const migration of migrations) if (migration.version > current) db.exec(migration.sql);
    db.prepare("INSERT INTO bw_meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(latest));
    return latest;
  });
}
