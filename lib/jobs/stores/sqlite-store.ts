import { resolve } from 'node:path';
import { checkNumber, checkObject, checkOneOf, checkString } from '../../validation.js';
import type { JobStore } from './job-store.js';
import { resolveRetention, type RetentionOptions } from './memory-store.js';
import { loadSqliteDriver, SQLITE_DRIVERS, type SqliteDriver, type SqliteDriverName } from './sqlite/sqlite-driver.js';
import { SqliteJobStore, type SqliteStoreConfig } from './sqlite/sqlite-job-store.js';

export type { SqliteDriverName } from './sqlite/sqlite-driver.js';

export interface SqliteStoreOptions {
  /** The database file; created when missing (its folder must exist). */
  path: string;
  /** `'normal'` (default) survives a process crash; `'full'` also a power loss, at a cost per commit. */
  synchronous?: 'normal' | 'full';
  /** Default: the first one installed of node:sqlite (Node >= 22.13), better-sqlite3 ^12, libsql. */
  driver?: SqliteDriverName;
  /** How long a claim holds without a heartbeat (another process takes the job over after it). Default 30_000. */
  leaseMs?: number;
  /** Orphanings after which a job fails with `JobStalledError` (one that crashes its process every time). Default 2. */
  maxStalls?: number;
  retention?: RetentionOptions;
  /** Milliseconds between looks for work that other processes sharing the file added. Default 250. */
  pollInterval?: number;
}

const KEYS = ['path', 'synchronous', 'driver', 'leaseMs', 'maxStalls', 'retention', 'pollInterval'];

/** Checks every option at the call, naming it; nothing is opened until the store's open() (at bootstrap). */
function resolveOptions(options: unknown): SqliteStoreConfig & { driver: SqliteDriverName | undefined } {
  const path = 'sqliteStore options';
  const o = checkObject(path, options, KEYS);
  const file = checkString(`${path}.path`, o.path);
  return {
    path: file === ':memory:' ? file : resolve(file),
    synchronous: o.synchronous === undefined ? 'normal' : checkOneOf(`${path}.synchronous`, o.synchronous, ['normal', 'full']),
    driver: o.driver === undefined ? undefined : checkOneOf(`${path}.driver`, o.driver, SQLITE_DRIVERS),
    settings: {
      leaseMs: o.leaseMs === undefined ? 30_000 : checkNumber(`${path}.leaseMs`, o.leaseMs, { min: 1_000, max: 2_147_483_647 }),
      maxStalls: o.maxStalls === undefined ? 2 : checkNumber(`${path}.maxStalls`, o.maxStalls, { min: 0, max: 1_000 }),
      pollMs: o.pollInterval === undefined ? 250 : checkNumber(`${path}.pollInterval`, o.pollInterval, { min: 10, max: 2_147_483_647 }),
      retention: resolveRetention(`${path}.retention`, o.retention),
    },
  };
}

/**
 * Jobs in a SQLite file that survives the process: a crash, a SIGKILL or a deploy loses nothing acknowledged.
 * Several processes may share the file; each claims with a lease that its heartbeat renews.
 */
export function sqliteStore(options: SqliteStoreOptions): JobStore {
  const { driver, ...config } = resolveOptions(options);
  return new SqliteJobStore(config, () => loadSqliteDriver(driver));
}

/** @internal A store on a driver the caller supplies: for tests that inject faults (SQLITE_FULL). Not in lib/index.ts. */
export function sqliteStoreWithDriver(options: SqliteStoreOptions, driver: SqliteDriver): JobStore {
  const { driver: _name, ...config } = resolveOptions(options);
  return new SqliteJobStore(config, async () => driver);
}
