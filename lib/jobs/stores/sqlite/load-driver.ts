import { betterSqlite3Adapter, libsqlAdapter, nodeSqliteAdapter } from './adapters.js';
import type { OpenSqliteDriver, SqliteDriverName } from './driver.js';

/**
 * Finds a SQLite driver when a store opens, never before: all three are optional peers. A variable specifier keeps
 * bundlers and Vite from resolving a package that is not installed.
 */

export const DRIVER_ORDER: readonly SqliteDriverName[] = ['node:sqlite', 'better-sqlite3', 'libsql'];
const INSTALL = 'npm install better-sqlite3@12';

type Found = { open: OpenSqliteDriver } | { missing: string };

const importModule = (specifier: string, json = false): Promise<any> =>
  json ? import(specifier, { with: { type: 'json' } }) : import(specifier);

/** Whether `error` says that `pkg` itself is absent (not one of its own dependencies). */
function isMissing(error: unknown, pkg: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = String((error as { message?: unknown } | null)?.message ?? '');
  if (code === 'ERR_UNKNOWN_BUILTIN_MODULE') return true;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(`'${pkg}`);
}

function loadFailed(pkg: string, error: unknown): Error {
  return new Error(`sqliteStore: the SQLite driver ${pkg} is installed but could not be loaded: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

function nodeVersionAtLeast(major: number, minor: number): boolean {
  const [a, b] = process.versions.node.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

const loaders: Record<SqliteDriverName, () => Promise<Found>> = {
  'node:sqlite': async () => {
    // Before 22.13 it needs --experimental-sqlite; later Nodes rename DatabaseSync to Database and keep the old name.
    if (!nodeVersionAtLeast(22, 13)) return { missing: `node:sqlite needs Node >= 22.13 (this is Node ${process.versions.node})` };
    let module: any;
    try {
      module = await importModule('node:sqlite');
    } catch (error) {
      if (isMissing(error, 'node:sqlite')) return { missing: `node:sqlite is not available in Node ${process.versions.node}` };
      throw loadFailed('node:sqlite', error);
    }
    const DatabaseSync = module.DatabaseSync ?? module.Database;
    if (typeof DatabaseSync !== 'function') return { missing: `node:sqlite of Node ${process.versions.node} has no DatabaseSync` };
    return { open: nodeSqliteAdapter(DatabaseSync) };
  },
  'better-sqlite3': async () => {
    let version: string;
    try {
      version = (await importModule('better-sqlite3/package.json', true)).default.version;
    } catch (error) {
      if (isMissing(error, 'better-sqlite3')) return { missing: 'better-sqlite3 is not installed' };
      throw loadFailed('better-sqlite3', error);
    }
    // Checked before the addon loads: better-sqlite3 13 crashes the process (SIGSEGV) on Node 20 at new Database().
    if (Number(version.split('.')[0]) !== 12) {
      throw new Error(`sqliteStore needs better-sqlite3 ^12, and ${version} is installed (13 and later crash Node 20): ${INSTALL}, or pick another driver with options.driver`);
    }
    try {
      return { open: betterSqlite3Adapter((await importModule('better-sqlite3')).default, version) };
    } catch (error) {
      throw loadFailed('better-sqlite3', error);
    }
  },
  libsql: async () => {
    try {
      return { open: libsqlAdapter((await importModule('libsql')).default) };
    } catch (error) {
      if (isMissing(error, 'libsql')) return { missing: 'libsql is not installed' };
      throw loadFailed('libsql', error);
    }
  },
};

/** The driver `choice` names, or the first one present in DRIVER_ORDER. */
export async function loadDriver(choice: SqliteDriverName | undefined): Promise<OpenSqliteDriver> {
  if (choice !== undefined) {
    const found = await loaders[choice]();
    if ('missing' in found) {
      const hint = choice === 'node:sqlite' ? '' : `: npm install ${choice === 'better-sqlite3' ? 'better-sqlite3@12' : 'libsql'}`;
      throw new Error(`sqliteStore options.driver is '${choice}', but ${found.missing}${hint}`);
    }
    return found.open;
  }
  const reasons: string[] = [];
  for (const name of DRIVER_ORDER) {
    const found = await loaders[name]();
    if ('open' in found) return found.open;
    reasons.push(found.missing);
  }
  throw new Error(
    `sqliteStore needs a SQLite driver and found none of node:sqlite (Node >= 22.13), better-sqlite3 ^12 or libsql (${reasons.join('; ')}). Install one: ${INSTALL}`,
  );
}

/** @internal The drivers this process can load, in DRIVER_ORDER: for tests that run on each. */
export async function presentDrivers(): Promise<SqliteDriverName[]> {
  const present: SqliteDriverName[] = [];
  for (const name of DRIVER_ORDER) if ('open' in (await loaders[name]())) present.push(name);
  return present;
}
