import { immediateTransaction, type OpenSqliteDriver, type SqlRow, type SqlValue, type SqliteStatement } from './driver.js';

/**
 * One thin adapter per driver. Each gets the module it wraps from load-driver.ts (never imported here: the
 * drivers are optional peers), so this file costs nothing when no SQLite store is used.
 */

interface NativeStatement {
  run(...params: unknown[]): { changes: number | bigint };
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
}

interface NativeDatabase {
  prepare(sql: string): NativeStatement;
  exec(sql: string): void;
  close(): void;
}

type NativeConstructor = new (path: string) => NativeDatabase;

function driverOf(name: string, db: NativeDatabase, wrap: (statement: NativeStatement) => SqliteStatement): ReturnType<OpenSqliteDriver> {
  const prepare = (sql: string): SqliteStatement => wrap(db.prepare(sql));
  return {
    name,
    prepare,
    exec: (sql) => db.exec(sql),
    transaction: immediateTransaction(prepare),
    close: () => db.close(),
  };
}

/** better-sqlite3 and libsql bind an array argument as positional parameters. */
function arrayBinding(statement: NativeStatement): SqliteStatement {
  return {
    run: (params) => ({ changes: Number(statement.run(params).changes) }),
    all: (params) => statement.all(params) as SqlRow[],
    get: (params) => (statement.get(params) ?? undefined) as SqlRow | undefined,
  };
}

/** node:sqlite takes parameters spread. */
function spreadBinding(statement: NativeStatement): SqliteStatement {
  return {
    run: (params) => ({ changes: Number(statement.run(...(params as SqlValue[])).changes) }),
    all: (params) => statement.all(...(params as SqlValue[])) as SqlRow[],
    get: (params) => (statement.get(...(params as SqlValue[])) ?? undefined) as SqlRow | undefined,
  };
}

export function betterSqlite3Adapter(Database: NativeConstructor, version: string): OpenSqliteDriver {
  return (path) => driverOf(`better-sqlite3 ${version}`, new Database(path), arrayBinding);
}

export function libsqlAdapter(Database: NativeConstructor): OpenSqliteDriver {
  return (path) => driverOf('libsql', new Database(path), arrayBinding);
}

export function nodeSqliteAdapter(DatabaseSync: NativeConstructor): OpenSqliteDriver {
  return (path) => driverOf(`node:sqlite (Node ${process.versions.node})`, new DatabaseSync(path), spreadBinding);
}
