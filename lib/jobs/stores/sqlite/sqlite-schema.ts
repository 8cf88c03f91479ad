import type { SqliteDatabase } from './sqlite-driver.js';

/** Every schema change, in order; the store migrates a file forward and refuses one written by a newer release. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE bw_jobs (
     id TEXT PRIMARY KEY, name TEXT NOT NULL, queue TEXT NOT NULL, state TEXT NOT NULL, payload TEXT NOT NULL, key TEXT,
     priority INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL, stalls INTEGER NOT NULL DEFAULT 0,
     run_at INTEGER NOT NULL, created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, progress REAL, result TEXT,
     errors TEXT NOT NULL DEFAULT '[]', options TEXT, trace TEXT, owner TEXT, lease_until INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0
   ) WITHOUT ROWID;
   CREATE INDEX bw_jobs_pending ON bw_jobs (queue, priority DESC, run_at, id) WHERE state = 'pending';
   CREATE INDEX bw_jobs_scheduled ON bw_jobs (queue, run_at) WHERE state = 'scheduled';
   CREATE INDEX bw_jobs_running ON bw_jobs (owner, lease_until) WHERE state = 'running';
   CREATE INDEX bw_jobs_ended ON bw_jobs (state, finished_at) WHERE state IN ('succeeded', 'failed', 'cancelled');
   CREATE UNIQUE INDEX bw_jobs_key ON bw_jobs (queue, key) WHERE key IS NOT NULL AND state IN ('scheduled', 'pending', 'running');
   CREATE TABLE bw_owners (id TEXT PRIMARY KEY, pid INTEGER NOT NULL, hostname TEXT NOT NULL, started_at INTEGER NOT NULL, heartbeat_at INTEGER NOT NULL);`,
];
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The file's schema version: 0 for a new, empty database. Reads only, so a refused file is left as it was. */
export function schemaVersion(db: SqliteDatabase): number {
  const meta = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'bw_meta'").get();
  if (meta === undefined) return 0;
  const row = db.prepare("SELECT value FROM bw_meta WHERE key = 'schema_version'").get();
  return row === undefined ? 0 : Number(row.value);
}

/** Brings the file from `from` to the current version, all in one transaction. */
export function migrate(db: SqliteDatabase, from: number): void {
  if (from === SCHEMA_VERSION) return;
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec('CREATE TABLE IF NOT EXISTS bw_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    for (let version = from + 1; version <= SCHEMA_VERSION; version++) db.exec(MIGRATIONS[version - 1]);
    db.prepare("INSERT INTO bw_meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(SCHEMA_VERSION));
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}
