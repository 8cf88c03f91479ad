/** An error the SQLite store words itself: its message already names the store's path, so it is not wrapped again. */
export class SqliteStoreError extends Error {
  override readonly name = 'SqliteStoreError';
}

/**
 * A driver error, reworded with the store's path, what was being done and SQLite's code
 * (`sqlite store /srv/jobs.db could not insert jobs (SQLITE_FULL): database or disk is full`); the driver's
 * error stays as `cause`.
 */
export function storeError(path: string, doing: string, cause: unknown): Error {
  if (cause instanceof SqliteStoreError) return cause;
  const code = (cause as { code?: unknown } | null)?.code;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new SqliteStoreError(`sqlite store ${path} could not ${doing}${typeof code === 'string' ? ` (${code})` : ''}: ${message}`, { cause });
}
