// The driver's own look into the job store's file, read-only and only while no app runs: which jobs the file says
// were running when a kill landed, and where every job ended.
import { createRequire } from 'node:module';

export interface StoredRow {
  /** The job's id (a ULID). */
  job: string;
  /** The driver's id, from the payload. */
  id: number;
  state: string;
  attempts: number;
  stalls: number;
  /** The job's key, or undefined. */
  key: string | undefined;
}

interface ReadOnlyDb {
  all(sql: string): Record<string, unknown>[];
  close(): void;
}

const require = createRequire(import.meta.url);

/** node:sqlite where Node has it (22.13+), else better-sqlite3 (a devDependency). */
function openReadOnly(path: string): ReadOnlyDb {
  try {
    const { DatabaseSync } = require('node:sqlite') as {
      DatabaseSync: new (path: string, options: { readOnly: boolean }) => { prepare(sql: string): { all(): Record<string, unknown>[] }; close(): void };
    };
    const db = new DatabaseSync(path, { readOnly: true });
    return { all: (sql) => db.prepare(sql).all(), close: () => db.close() };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ERR_UNKNOWN_BUILTIN_MODULE' && code !== 'MODULE_NOT_FOUND') throw error;
  }
  const Database = require('better-sqlite3') as new (
    path: string,
    options: { readonly: boolean; fileMustExist: boolean },
  ) => { prepare(sql: string): { all(): Record<string, unknown>[] }; close(): void };
  const db = new Database(path, { readonly: true, fileMustExist: true });
  return { all: (sql) => db.prepare(sql).all(), close: () => db.close() };
}

/** Every job of the file, or of one state. */
export function readJobs(path: string, state?: 'running'): StoredRow[] {
  const db = openReadOnly(path);
  try {
    const where = state === undefined ? '' : ` WHERE state = '${state}'`;
    return db.all(`SELECT id, state, attempts, stalls, key, payload FROM bw_jobs${where} ORDER BY id`).map((row) => ({
      job: String(row.id),
      id: Number((JSON.parse(String(row.payload)) as { id: unknown }).id),
      state: String(row.state),
      attempts: Number(row.attempts),
      stalls: Number(row.stalls),
      key: row.key === null || row.key === undefined ? undefined : String(row.key),
    }));
  } finally {
    db.close();
  }
}

/** Whether the file has the store's tables yet (a process killed early in its first boot may not have made them). */
export function hasJobsTable(path: string): boolean {
  const db = openReadOnly(path);
  try {
    return db.all("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'bw_jobs'").length > 0;
  } finally {
    db.close();
  }
}
