import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryStore, sqliteStore, type JobStore, type SqliteDriverName } from 'nestjs-background-work';

/** The SQLite drivers that load in this Node: node:sqlite from 22.13, and the installed optional peers. */
export async function availableDrivers(): Promise<SqliteDriverName[]> {
  const found: SqliteDriverName[] = [];
  for (const [name, specifier] of [
    ['node:sqlite', 'node:sqlite'],
    ['better-sqlite3', 'better-sqlite3'],
    ['libsql', 'libsql'],
  ] as const) {
    try {
      const module = await import(specifier);
      // A native module built for another Node loads but cannot open: try it for real.
      if (name === 'node:sqlite') new module.DatabaseSync(':memory:').close();
      else new (module.default ?? module)(':memory:').close();
      found.push(name);
    } catch {
      // not installed here, or not for this Node
    }
  }
  return found;
}

export const DRIVERS = await availableDrivers();

/** A fresh folder for one test's database files, removed by `cleanup()`. */
export function tempFolder(): { dir: string; file: (name?: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'bw-'));
  return { dir, file: (name = 'jobs.db') => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Each store the job suites run on: memory, and SQLite on every driver present. */
export interface StoreCase {
  label: string;
  durable: boolean;
  make(folder: string): JobStore;
}

export const STORE_CASES: StoreCase[] = [
  { label: 'memoryStore()', durable: false, make: () => memoryStore() },
  ...DRIVERS.map((driver) => ({
    label: `sqliteStore(${driver})`,
    durable: true,
    make: (folder: string) => sqliteStore({ path: join(folder, `${driver.replace(':', '-')}.db`), driver }),
  })),
];
