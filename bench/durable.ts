/**
 * What the durable-* scenarios share: the libraries they compare (ours on each store, and the same SQLite driver
 * with no library), the payload, a store file of its own per process, and the bare driver with the library's pragmas.
 *
 * Library names: `nestjs-background-work/<store>` (memory, better-sqlite3, libsql, node:sqlite) and
 * `sqlite-raw/<driver>`; the runner takes each raw driver's ratio against ours on the same driver. Each process imports only what it measures: our application is in
 * durable-app.ts, which only the processes that measure us import.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { OURS } from './queues.js';

export const SQLITE_DRIVERS = ['better-sqlite3', 'libsql', 'node:sqlite'] as const;
export type SqliteDriverName = (typeof SQLITE_DRIVERS)[number];
export type StoreName = 'memory' | SqliteDriverName;

export const oursOn = (store: StoreName): string => `${OURS}/${store}`;
export const rawOn = (driver: SqliteDriverName): string => `sqlite-raw/${driver}`;

/** Ours on every store: memory, then each driver. */
export const OUR_STORES: readonly string[] = [oursOn('memory'), ...SQLITE_DRIVERS.map((driver) => oursOn(driver))];

/** Every durable scenario's libraries: ours on memory, then per driver ours and the bare driver. */
export const DURABLE_LIBS: readonly string[] = [oursOn('memory'), ...SQLITE_DRIVERS.flatMap((driver) => [oursOn(driver), rawOn(driver)])];

export type Subject = { kind: 'ours'; store: StoreName } | { kind: 'raw'; driver: SqliteDriverName };

export function subjectOf(lib: string): Subject {
  const [kind, ...rest] = lib.split('/');
  const name = rest.join('/');
  if (kind === OURS && (name === 'memory' || isDriver(name))) return { kind: 'ours', store: name };
  if (kind === 'sqlite-raw' && isDriver(name)) return { kind: 'raw', driver: name };
  throw new Error(`unknown durable library ${lib}`);
}

function isDriver(name: string): name is SqliteDriverName {
  return (SQLITE_DRIVERS as readonly string[]).includes(name);
}

function hasNodeSqlite(): boolean {
  const [major, minor] = process.versions.node.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 13);
}

/** Why `driver` cannot be used in this process, or undefined when it can. */
export async function driverMissing(driver: SqliteDriverName): Promise<string | undefined> {
  if (driver === 'node:sqlite' && !hasNodeSqlite()) return `node:sqlite needs Node >= 22.13; this is ${process.version}`;
  try {
    await import(driver);
    return undefined;
  } catch (error) {
    return `${driver} does not load here: ${(error as Error).message.split('\n')[0]}`;
  }
}

/**
 * About 250 bytes of JSON, like a typical email job: every library stores the same text. `seq` tells the end to
 * end scenarios which job ran.
 */
export function payload(seq: number): { seq: number; to: string; template: string; locale: string; vars: Record<string, string> } {
  return {
    seq,
    to: 'someone.with.a.longish.name@example.com',
    template: 'welcome-email',
    locale: 'en-GB',
    vars: { firstName: 'Ada', lastName: 'Lovelace', plan: 'team', referrer: 'newsletter-2026-11', note: 'x'.repeat(80) },
  };
}

/** A fresh folder for this process's store file, removed when the process exits (report() exits at once). */
export function scratchFile(name = 'jobs.db'): string {
  const folder = mkdtempSync(join(tmpdir(), 'bw-bench-'));
  process.on('exit', () => rmSync(folder, { recursive: true, force: true }));
  return join(folder, name);
}

/** The named queue the benchmark jobs run on, and the one job name they all use. */
export const QUEUE = 'bench';
export const JOB = 'bench-noop';

/** Creates the library's schema in `path` (open and close of a store), so that the bare driver works on the same tables and indexes. */
export async function createSchema(driver: SqliteDriverName, path: string): Promise<void> {
  // Imported here only: the bare-driver processes load the library for this untimed set-up and nothing else.
  const { sqliteStore } = await import('nestjs-background-work');
  const store = sqliteStore({ path, driver });
  await store.open({ owner: 'bench-schema', pid: process.pid, hostname: hostname(), now: Date.now() });
  await store.close();
}

// ---- the bare driver ------------------------------------------------------------------------------------------

export interface RawStatement {
  run(params: unknown[]): unknown;
  all(params: unknown[]): Record<string, unknown>[];
}

export interface RawDatabase {
  prepare(sql: string): RawStatement;
  exec(sql: string): void;
  /** BEGIN IMMEDIATE ... COMMIT around `fn`, as the store does. */
  transaction(fn: () => void): void;
}

/**
 * The driver opened with the pragmas the store uses (WAL, synchronous NORMAL, the same checkpoint interval and
 * busy timeout), and nothing else. better-sqlite3 and libsql take an array of positional parameters; node:sqlite
 * takes them spread.
 */
export async function openRaw(driver: SqliteDriverName, path: string): Promise<RawDatabase> {
  const module: any = await import(driver);
  const Database = driver === 'node:sqlite' ? (module.DatabaseSync ?? module.Database) : module.default;
  const db = new Database(path);
  const spread = driver === 'node:sqlite';
  const prepare = (sql: string): RawStatement => {
    const statement = db.prepare(sql);
    return spread
      ? { run: (params) => statement.run(...params), all: (params) => statement.all(...params) }
      : { run: (params) => statement.run(params), all: (params) => statement.all(params) };
  };
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA wal_autocheckpoint = 10000');
  const begin = prepare('BEGIN IMMEDIATE');
  const commit = prepare('COMMIT');
  return {
    prepare,
    exec: (sql) => db.exec(sql),
    transaction: (fn) => {
      begin.run([]);
      fn();
      commit.run([]);
    },
  };
}

/** Ids of the same length and order as the store's ULIDs (26 characters, increasing), made for nothing. */
export function rawIds(): () => string {
  const prefix = Date.now().toString(36).padStart(10, '0');
  let n = 0;
  return () => prefix + String(n++).padStart(16, '0');
}

/** The statements of a bare SQLite job queue on the store's table: what the store does, and nothing else. */
export function rawStatements(db: RawDatabase): {
  insert: RawStatement;
  claim: RawStatement;
  complete: RawStatement;
} {
  return {
    insert: db.prepare(
      `INSERT INTO bw_jobs (id, name, queue, state, payload, priority, max_attempts, run_at, created_at) VALUES (?, '${JOB}', '${QUEUE}', 'pending', ?, 0, 1, ?, ?)`,
    ),
    // params: now, owner, lease until, now, limit
    claim: db.prepare(
      `UPDATE bw_jobs SET state = 'running', attempts = attempts + 1, started_at = ?, owner = ?, lease_until = ?
       WHERE rowid IN (SELECT rowid FROM bw_jobs WHERE state = 'pending' AND queue = '${QUEUE}' AND run_at <= ? AND name IN ('${JOB}')
                       ORDER BY priority DESC, run_at, id LIMIT ?)
       RETURNING id, name, payload, attempts`,
    ),
    // params: now, JSON array of ids, owner
    complete: db.prepare(
      `UPDATE bw_jobs SET state = 'succeeded', finished_at = ?, owner = NULL, lease_until = NULL
       WHERE id IN (SELECT value FROM json_each(?)) AND state = 'running' AND owner = ?`,
    ),
  };
}
