import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobStore, NewJob, NewSchedule, StoreOpenContext } from '../../../lib/jobs/stores/job-store.js';
import { memoryStore, type MemoryStoreOptions } from '../../../lib/jobs/stores/memory-store.js';
import { sqliteStore } from '../../../lib/jobs/stores/sqlite-store.js';
import { loadSqliteDriver, SQLITE_DRIVERS, type SqliteDriverName } from '../../../lib/jobs/stores/sqlite/sqlite-driver.js';

/** The SQLite drivers that open a database in this Node (node:sqlite appears by itself on Node >= 22.13). */
export async function presentDrivers(): Promise<SqliteDriverName[]> {
  const present: SqliteDriverName[] = [];
  for (const name of SQLITE_DRIVERS) {
    try {
      (await loadSqliteDriver(name)).open(':memory:').close();
      present.push(name);
    } catch {
      // not installed here, or not for this Node
    }
  }
  return present;
}

export const DRIVERS = await presentDrivers();

/** One store under test; `make` builds a fresh one on its own file each time. */
export interface StoreCase {
  label: string;
  make(options?: MemoryStoreOptions): JobStore;
  /** A second store on the same data, as another process sees it (SQLite only). */
  sibling?(options?: MemoryStoreOptions): JobStore;
}

/** Memory and SQLite on each present driver, each in a fresh temporary folder that `cleanup` removes. */
export function storeCases(): { cases: StoreCase[]; cleanup: () => void } {
  const folders: string[] = [];
  const folder = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'bw-'));
    folders.push(dir);
    return dir;
  };
  let last = '';
  const cases: StoreCase[] = [
    { label: 'memoryStore()', make: (options) => memoryStore(options) },
    ...DRIVERS.map((driver) => ({
      label: `sqliteStore(${driver})`,
      make: (options?: MemoryStoreOptions) => sqliteStore({ path: (last = join(folder(), 'jobs.db')), driver, ...options }),
      sibling: (options?: MemoryStoreOptions) => sqliteStore({ path: last, driver, ...options }),
    })),
  ];
  return { cases, cleanup: () => folders.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })) };
}

export const context = (owner = 'owner-1', extra: Partial<StoreOpenContext> = {}): StoreOpenContext => ({
  owner,
  pid: process.pid,
  hostname: 'test-host',
  now: 0,
  ...extra,
});

export function newJob(id: string, extra: Partial<NewJob> = {}): NewJob {
  return { id, name: 'n', queue: 'q', payload: '{"a":1}', key: null, group: null, priority: 0, maxAttempts: 3, runAt: 0, createdAt: 0, options: null, trace: null, ...extra };
}

export const anError = (attempt: number, at = 0) => ({ attempt, name: 'Error', message: `failed ${attempt}`, at });

export function newSchedule(id: string, extra: Partial<NewSchedule> = {}): NewSchedule {
  return {
    id, cron: '*/1 * * * * *', tz: 'UTC', overlap: 'allow', misfire: 'once', source: 'call',
    name: 'n', queue: 'q', payload: '{}', priority: 0, maxAttempts: 1, options: null, nextRunAt: 0, ...extra,
  };
}
