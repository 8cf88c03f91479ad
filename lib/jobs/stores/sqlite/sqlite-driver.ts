/**
 * The few calls the SQLite store makes of a driver: the shape that better-sqlite3, libsql and node:sqlite all
 * share (synchronous, positional `?` parameters). Each driver is an optional peer, imported only when a store opens.
 */
export interface SqliteStatement {
  run(...params: unknown[]): { changes: number | bigint };
  get(...params: unknown[]): Record<string, unknown> | undefined;
  all(...params: unknown[]): Record<string, unknown>[];
}

export interface SqliteDatabase {
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  close(): void;
}

export type SqliteDriverName = 'node:sqlite' | 'better-sqlite3' | 'libsql';
export const SQLITE_DRIVERS: readonly SqliteDriverName[] = ['node:sqlite', 'better-sqlite3', 'libsql'];

/** Opens a database file with one driver. */
export interface SqliteDriver {
  readonly name: SqliteDriverName | string;
  open(path: string): SqliteDatabase;
}

/** A specifier in a variable, so that TypeScript does not ask for the optional peers' types. */
function load(specifier: string): Promise<any> {
  return import(specifier);
}

async function tryDriver(name: SqliteDriverName): Promise<SqliteDriver | undefined> {
  try {
    if (name === 'node:sqlite') {
      const { DatabaseSync } = await load('node:sqlite');
      return { name, open: (path) => new DatabaseSync(path) as SqliteDatabase };
    }
    const module = await load(name);
    const Database = module.default ?? module;
    if (name === 'better-sqlite3') {
      const version = (await load('better-sqlite3/package.json').catch(() => undefined))?.default?.version as string | undefined;
      // better-sqlite3 13 needs Node 22 and crashes the process (a segfault) on Node 20: refuse it with a reason instead.
      if (version !== undefined && !version.startsWith('12.') && Number(process.versions.node.split('.')[0]) < 22) {
        throw new Error(`better-sqlite3 ${version} does not run on Node ${process.versions.node}; install better-sqlite3@12`);
      }
    }
    return { name, open: (path) => new Database(path) as SqliteDatabase };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || code === 'ERR_UNKNOWN_BUILTIN_MODULE') return undefined;
    if (name === 'node:sqlite' && code === 'ERR_UNKNOWN_BUILTIN_MODULE') return undefined;
    throw error;
  }
}

/** The named driver, or the first one installed (node:sqlite, better-sqlite3, libsql); an error naming all three when none is. */
export async function loadSqliteDriver(name: SqliteDriverName | undefined): Promise<SqliteDriver> {
  for (const candidate of name === undefined ? SQLITE_DRIVERS : [name]) {
    const driver = await tryDriver(candidate);
    if (driver !== undefined) return driver;
  }
  if (name !== undefined) {
    const install = name === 'node:sqlite' ? 'use Node >= 22.13' : `npm install ${name === 'better-sqlite3' ? 'better-sqlite3@12' : 'libsql'}`;
    throw new Error(`sqliteStore: the SQLite driver "${name}" is not available here (${install})`);
  }
  throw new Error(
    'sqliteStore needs a SQLite driver, and none of node:sqlite (built into Node >= 22.13), better-sqlite3 and libsql is available: run `npm install better-sqlite3@12` (or `npm install libsql`)',
  );
}
