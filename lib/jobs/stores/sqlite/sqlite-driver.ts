import { importModule } from '../../../import-module.js';

/**
 * The few calls the SQLite store makes of a driver: the shape that better-sqlite3, libsql and node:sqlite all
 * share (synchronous, positional `?` parameters). Each driver is an optional peer, imported only when a store
 * opens, through a specifier in a variable so that neither TypeScript nor a bundler looks for one not installed.
 */
export interface SqliteStatement {
  run(...params: unknown[]): { changes: number | bigint };
  get(...params: unknown[]): Record<string, unknown> | undefined;
  all(...params: unknown[]): Record<string, unknown>[];
}

/** A statement whose rows come back as arrays of their column values, in column order: no object per row. */
export interface SqliteValuesStatement {
  all(...params: unknown[]): unknown[][];
}

export interface SqliteDatabase {
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  /**
   * Optional: for the claim, the store's hottest read, where building an object of 19 columns per row costs a
   * quarter of the claim. A driver without it gets its rows' values read by name.
   */
  prepareValues?(sql: string): SqliteValuesStatement;
  close(): void;
}

export type SqliteDriverName = 'node:sqlite' | 'better-sqlite3' | 'libsql';
/** The order in which a store without `driver` looks for one. */
export const SQLITE_DRIVERS: readonly SqliteDriverName[] = ['node:sqlite', 'better-sqlite3', 'libsql'];

/** Opens a database file (creating it when missing) with one driver. */
export interface SqliteDriver {
  readonly name: SqliteDriverName | string;
  open(path: string): SqliteDatabase;
}

const INSTALL = 'npm install better-sqlite3@12';

type Found = SqliteDriver | { missing: string };

// import() in the ESM build, require() in the CommonJS one (Jest's CommonJS runtime refuses import()).
const load = importModule;

/** Whether `error` says that `pkg` itself is absent (not one of its own dependencies). */
function isMissing(error: unknown, pkg: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ERR_UNKNOWN_BUILTIN_MODULE') return true;
  const message = String((error as { message?: unknown } | null)?.message ?? '');
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(`'${pkg}`);
}

function loadFailed(pkg: string, error: unknown): Error {
  return new Error(`sqliteStore: the SQLite driver ${pkg} is installed but does not load: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/** libsql reads a lone object argument (null among them) as named parameters: hand it the array. */
function positional(statement: SqliteStatement): SqliteStatement {
  return {
    run: (...params) => statement.run(params),
    get: (...params) => statement.get(params),
    all: (...params) => statement.all(params),
  };
}

/** better-sqlite3's and libsql's database: statements switch to arrays with raw(true). */
interface NativeDatabase {
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement & { raw(on: boolean): SqliteStatement & SqliteValuesStatement };
  close(): void;
}

/** node:sqlite's statement switched to arrays. */
function arrays(statement: SqliteStatement & { setReturnArrays?(on: boolean): void }): SqliteValuesStatement {
  statement.setReturnArrays!(true);
  return statement as unknown as SqliteValuesStatement;
}

const finders: Record<SqliteDriverName, () => Promise<Found>> = {
  'node:sqlite': async () => {
    // 22.5 to 22.12 have it behind --experimental-sqlite only.
    const [major, minor] = process.versions.node.split('.').map(Number);
    if (major < 22 || (major === 22 && minor < 13)) return { missing: `node:sqlite needs Node >= 22.13 (this is ${process.versions.node})` };
    let module: any;
    try {
      module = await load('node:sqlite');
    } catch (error) {
      if (isMissing(error, 'node:sqlite')) return { missing: `node:sqlite is not in Node ${process.versions.node}` };
      throw loadFailed('node:sqlite', error);
    }
    // Later Nodes name the class Database and keep DatabaseSync as an alias.
    const DatabaseSync = module.DatabaseSync ?? module.Database;
    return {
      name: 'node:sqlite',
      open: (path) => {
        const db = new DatabaseSync(path);
        return {
          exec: (sql) => db.exec(sql),
          prepare: (sql) => db.prepare(sql),
          close: () => db.close(),
          // setReturnArrays came in Node 22.16 / 24: without it the store reads the values by name.
          prepareValues: typeof db.prepare('SELECT 1').setReturnArrays === 'function' ? (sql) => arrays(db.prepare(sql)) : undefined,
        };
      },
    };
  },
  'better-sqlite3': async () => {
    let version: string;
    try {
      version = (await load('better-sqlite3/package.json', true)).default.version;
    } catch (error) {
      if (isMissing(error, 'better-sqlite3')) return { missing: 'better-sqlite3 is not installed' };
      throw loadFailed('better-sqlite3', error);
    }
    // Checked before its addon loads: better-sqlite3 13 crashes the process (a segfault) on Node 20 at new Database().
    if (Number(version.split('.')[0]) !== 12) {
      throw new Error(`sqliteStore needs better-sqlite3 ^12 and found ${version} (13 crashes Node 20): ${INSTALL}, or choose another driver with options.driver`);
    }
    let Database: new (path: string) => SqliteDatabase;
    try {
      Database = (await load('better-sqlite3')).default;
    } catch (error) {
      throw loadFailed('better-sqlite3', error);
    }
    return {
      name: 'better-sqlite3',
      open: (path) => {
        const db = new Database(path) as unknown as NativeDatabase;
        return { exec: (sql) => db.exec(sql), prepare: (sql) => db.prepare(sql), close: () => db.close(), prepareValues: (sql) => db.prepare(sql).raw(true) };
      },
    };
  },
  libsql: async () => {
    let Database: new (path: string) => SqliteDatabase;
    try {
      Database = (await load('libsql')).default;
    } catch (error) {
      if (isMissing(error, 'libsql')) return { missing: 'libsql is not installed' };
      throw loadFailed('libsql', error);
    }
    return {
      name: 'libsql',
      open: (path) => {
        const db = new Database(path) as unknown as NativeDatabase;
        return {
          exec: (sql) => db.exec(sql),
          close: () => db.close(),
          prepare: (sql) => positional(db.prepare(sql)),
          prepareValues: (sql) => positional(db.prepare(sql).raw(true)) as unknown as SqliteValuesStatement,
        };
      },
    };
  },
};

/** The named driver, or the first one installed (node:sqlite, better-sqlite3, libsql); an error naming all three when none is. */
export async function loadSqliteDriver(name: SqliteDriverName | undefined): Promise<SqliteDriver> {
  if (name !== undefined) {
    const found = await finders[name]();
    if ('open' in found) return found;
    const hint = name === 'node:sqlite' ? 'use Node >= 22.13' : `npm install ${name === 'better-sqlite3' ? 'better-sqlite3@12' : 'libsql'}`;
    throw new Error(`sqliteStore: the SQLite driver "${name}" is not available here: ${found.missing} (${hint})`);
  }
  const reasons: string[] = [];
  for (const candidate of SQLITE_DRIVERS) {
    const found = await finders[candidate]();
    if ('open' in found) return found;
    reasons.push(found.missing);
  }
  throw new Error(
    `sqliteStore needs a SQLite driver, and none of node:sqlite (built into Node >= 22.13), better-sqlite3 and libsql is available (${reasons.join('; ')}): run \`${INSTALL}\` (or \`npm install libsql\`)`,
  );
}
