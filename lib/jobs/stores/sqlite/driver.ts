/**
 * The seam between the SQLite store and a driver: the better-sqlite3 shape, which node:sqlite and libsql also
 * match closely enough for one thin adapter each. Every call is synchronous; the store wraps them in promises.
 */

export type SqlValue = string | number | null;
export type SqlRow = Record<string, SqlValue>;

export interface SqliteStatement {
  /** Parameters are positional (`?`), passed as one array so no adapter spreads on the hot path. */
  run(params: readonly SqlValue[]): { changes: number };
  all(params: readonly SqlValue[]): SqlRow[];
  get(params: readonly SqlValue[]): SqlRow | undefined;
}

export interface SqliteDriver {
  /** `better-sqlite3 12.6.2`: for messages. */
  readonly name: string;
  prepare(sql: string): SqliteStatement;
  exec(sql: string): void;
  /** Runs `fn` between BEGIN IMMEDIATE and COMMIT; on any error rolls back (if SQLite has not already) and rethrows. */
  transaction<T>(fn: () => T): T;
  close(): void;
}

export type SqliteDriverName = 'node:sqlite' | 'better-sqlite3' | 'libsql';

/** Opens a connection to the file at `path` (creating it when missing). */
export type OpenSqliteDriver = (path: string) => SqliteDriver;

/** A transaction on top of any connection's prepared statements: BEGIN IMMEDIATE takes the write lock up front. */
export function immediateTransaction(prepare: (sql: string) => SqliteStatement): <T>(fn: () => T) => T {
  const begin = prepare('BEGIN IMMEDIATE');
  const commit = prepare('COMMIT');
  const rollback = prepare('ROLLBACK');
  return <T>(fn: () => T): T => {
    begin.run([]);
    try {
      const result = fn();
      commit.run([]);
      return result;
    } catch (error) {
      try {
        rollback.run([]);
      } catch {
        // SQLite already rolled back (it does on SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM): nothing is left open.
      }
      throw error;
    }
  };
}
