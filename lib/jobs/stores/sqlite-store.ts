import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { checkNumber, checkObject, checkOneOf, checkString } from '../../validation.js';
import { JOB_STATES, type JobState } from '../job.types.js';
import type {
  InsertResult,
  JobStore,
  JobUpdate,
  NewJob,
  RecoveryResult,
  StoreListFilter,
  StoreOpenContext,
  StoreSettings,
  StoredJob,
  StoredJobError,
} from './job-store.js';
import { resolveRetention, type RetentionOptions } from './memory-store.js';
import { loadSqliteDriver, SQLITE_DRIVERS, type SqliteDatabase, type SqliteDriver, type SqliteDriverName, type SqliteStatement } from './sqlite/sqlite-driver.js';
import { migrate, schemaVersion, SCHEMA_VERSION } from './sqlite/sqlite-schema.js';

export interface SqliteStoreOptions {
  /** The database file; created when missing (its folder must exist). */
  path: string;
  /** `'normal'` (default) survives a process crash; `'full'` also a power loss, at a cost per commit. */
  synchronous?: 'normal' | 'full';
  /** Default: the first one installed of node:sqlite, better-sqlite3, libsql. */
  driver?: SqliteDriverName;
  /** How long a claim holds without a heartbeat (another process takes the job over after it). Default 30_000. */
  leaseMs?: number;
  /** Orphanings after which a job fails with `JobStalledError` (one that crashes its process every time). Default 2. */
  maxStalls?: number;
  retention?: RetentionOptions;
  /** Milliseconds between looks for work that other processes sharing the file added. Default 250. */
  pollInterval?: number;
}

const KEYS = ['path', 'synchronous', 'driver', 'leaseMs', 'maxStalls', 'retention', 'pollInterval'] as const;
const ENDED: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];
const SWEEP_BATCH = 1_000;
const COLUMNS =
  'id, name, queue, state, payload, key, priority, attempts, max_attempts, stalls, run_at, created_at, started_at, finished_at, progress, result, errors, options, trace';

interface ResolvedSqliteOptions {
  path: string;
  synchronous: 'normal' | 'full';
  driver: SqliteDriverName | undefined;
  settings: StoreSettings;
}

/** Whether a process of this host still exists. */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

function toJob(row: Record<string, unknown>): StoredJob {
  return {
    id: row.id as string,
    name: row.name as string,
    queue: row.queue as string,
    state: row.state as JobState,
    payload: row.payload as string,
    key: (row.key as string | null) ?? null,
    priority: Number(row.priority),
    attempts: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    stalls: Number(row.stalls),
    runAt: Number(row.run_at),
    createdAt: Number(row.created_at),
    startedAt: row.started_at === null ? null : Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    progress: row.progress === null ? null : Number(row.progress),
    result: (row.result as string | null) ?? null,
    errors: row.errors as string,
    options: (row.options as string | null) ?? null,
    trace: (row.trace as string | null) ?? null,
  };
}

/** RETURNING gives no order: claims are handed out in the order the queue would start them. */
function byClaimOrder(a: StoredJob, b: StoredJob): number {
  return b.priority - a.priority || a.runAt - b.runAt || (a.id < b.id ? -1 : 1);
}

/**
 * Jobs in a SQLite file: one table with a state column and a partial index per hot state, claims in one
 * `UPDATE … RETURNING`, leases renewed by a heartbeat, and an owner record per process so that a restarted
 * process reruns its dead predecessor's jobs at once. WAL mode; one writer at a time (SQLite's own lock), so
 * several processes may share the file.
 */
class SqliteStore implements JobStore {
  readonly durable = true;
  readonly description: string;
  readonly settings: StoreSettings;
  private db: SqliteDatabase | undefined = undefined;
  private context: StoreOpenContext | undefined = undefined;
  private readonly statements = new Map<string, SqliteStatement>();
  private closed = false;

  constructor(
    private readonly options: ResolvedSqliteOptions,
    private readonly driverFor: () => Promise<SqliteDriver>,
  ) {
    this.settings = options.settings;
    this.description = `sqlite ${options.path}`;
  }

  async open(context: StoreOpenContext): Promise<void> {
    const path = this.options.path;
    const folder = dirname(path);
    if (!existsSync(folder) || !statSync(folder).isDirectory()) {
      throw new Error(`sqliteStore: cannot open ${path}: its folder ${folder} does not exist`);
    }
    const driver = await this.driverFor();
    let db: SqliteDatabase;
    try {
      db = driver.open(path);
    } catch (error) {
      throw new Error(`sqliteStore: cannot open ${path} with ${driver.name}: ${(error as Error).message}`, { cause: error });
    }
    try {
      db.exec('PRAGMA busy_timeout = 5000');
      let version: number;
      try {
        version = schemaVersion(db);
      } catch (error) {
        throw new Error(`sqliteStore: ${path} is not a SQLite database, or it is corrupt: ${(error as Error).message}`, { cause: error });
      }
      if (version > SCHEMA_VERSION) {
        throw new Error(`sqliteStore: ${path} has schema version ${version}, written by a newer release of nestjs-background-work; this one knows up to ${SCHEMA_VERSION} and leaves the file untouched`);
      }
      db.exec('PRAGMA journal_mode = WAL');
      db.exec(`PRAGMA synchronous = ${this.options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      migrate(db, version);
      db.prepare('INSERT INTO bw_owners (id, pid, hostname, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)').run(
        context.owner,
        context.pid,
        context.hostname,
        context.now,
        context.now,
      );
    } catch (error) {
      db.close();
      if ((error as Error).message.startsWith('sqliteStore:')) throw error;
      throw new Error(`sqliteStore: cannot open ${path}: ${(error as Error).message}`, { cause: error });
    }
    this.db = db;
    this.context = context;
    this.closed = false;
  }

  async close(): Promise<void> {
    if (this.db === undefined || this.closed) return;
    this.closed = true;
    try {
      this.db.prepare('DELETE FROM bw_owners WHERE id = ?').run(this.context!.owner);
    } finally {
      this.statements.clear();
      this.db.close();
      this.db = undefined;
    }
  }

  async insert(jobs: readonly NewJob[], now: number): Promise<InsertResult[]> {
    return this.write('insert jobs', () => {
      const insert = this.statement(
        `INSERT INTO bw_jobs (id, name, queue, state, payload, key, priority, max_attempts, run_at, created_at, options, trace) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ${COLUMNS}`,
      );
      const byKey = this.statement(`SELECT ${COLUMNS} FROM bw_jobs WHERE queue = ? AND key = ? AND state IN ('scheduled', 'pending', 'running')`);
      const results: InsertResult[] = [];
      for (const job of jobs) {
        if (job.key !== null) {
          const existing = byKey.get(job.queue, job.key);
          if (existing !== undefined) {
            results.push({ job: toJob(existing), created: false });
            continue;
          }
        }
        const state = job.runAt > now ? 'scheduled' : 'pending';
        const row = insert.all(job.id, job.name, job.queue, state, job.payload, job.key, job.priority, job.maxAttempts, job.runAt, job.createdAt, job.options, job.trace)[0];
        results.push({ job: toJob(row), created: true });
      }
      return results;
    });
  }

  async claim(queue: string, names: readonly string[], limit: number, now: number): Promise<StoredJob[]> {
    if (names.length === 0 || limit <= 0) return [];
    return this.write('claim jobs', () => {
      this.statement("UPDATE bw_jobs SET state = 'pending' WHERE state = 'scheduled' AND queue = ? AND run_at <= ?").run(queue, now);
      const marks = names.map(() => '?').join(', ');
      const rows = this.statement(
        `UPDATE bw_jobs SET state = 'running', attempts = attempts + 1, started_at = ?, owner = ?, lease_until = ?, cancel_requested = 0
         WHERE id IN (SELECT id FROM bw_jobs WHERE state = 'pending' AND queue = ? AND run_at <= ? AND name IN (${marks})
                      ORDER BY priority DESC, run_at, id LIMIT ?)
         RETURNING ${COLUMNS}`,
      ).all(now, this.owner, now + this.settings.leaseMs, queue, now, ...names, limit);
      return rows.map(toJob).sort(byClaimOrder);
    });
  }

  async settle(updates: readonly JobUpdate[], now: number): Promise<void> {
    if (updates.length === 0) return;
    await this.write('record job outcomes', () => {
      const mine = "WHERE id = ? AND state = 'running' AND owner = ?";
      const append = "errors = json_insert(errors, '$[#]', json(?))";
      for (const u of updates) {
        switch (u.type) {
          case 'progress':
            this.statement(`UPDATE bw_jobs SET progress = ? ${mine}`).run(u.progress, u.id, this.owner);
            break;
          case 'succeeded':
            this.statement(`UPDATE bw_jobs SET state = 'succeeded', result = ?, finished_at = ?, owner = NULL, lease_until = NULL ${mine}`).run(u.result, now, u.id, this.owner);
            break;
          case 'failed':
          case 'cancelled':
            this.statement(`UPDATE bw_jobs SET state = ?, ${append}, finished_at = ?, owner = NULL, lease_until = NULL ${mine}`).run(u.type, JSON.stringify(u.error), now, u.id, this.owner);
            break;
          case 'retry':
            this.statement(`UPDATE bw_jobs SET state = ?, ${append}, run_at = ?, owner = NULL, lease_until = NULL ${mine}`).run(
              u.runAt > now ? 'scheduled' : 'pending',
              JSON.stringify(u.error),
              u.runAt,
              u.id,
              this.owner,
            );
            break;
          case 'handBack':
            this.statement(`UPDATE bw_jobs SET state = 'pending', attempts = MAX(attempts - 1, 0), owner = NULL, lease_until = NULL ${mine}`).run(u.id, this.owner);
            break;
        }
      }
    });
  }

  async renew(now: number): Promise<string[]> {
    return this.write('renew leases', () => {
      this.statement("UPDATE bw_jobs SET lease_until = ? WHERE state = 'running' AND owner = ?").run(now + this.settings.leaseMs, this.owner);
      const owner = this.context!;
      // A process that looked dead to another (its event loop blocked past the lease) records itself again.
      const touched = this.statement('UPDATE bw_owners SET heartbeat_at = ? WHERE id = ?').run(now, owner.owner);
      if (Number(touched.changes) === 0) {
        this.statement('INSERT INTO bw_owners (id, pid, hostname, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)').run(owner.owner, owner.pid, owner.hostname, owner.now, now);
      }
      return this.statement("SELECT id FROM bw_jobs WHERE state = 'running' AND owner = ? AND cancel_requested = 1")
        .all(this.owner)
        .map((row) => row.id as string);
    });
  }

  async recover(now: number): Promise<RecoveryResult> {
    return this.write('recover orphaned jobs', () => {
      const me = this.context!;
      for (const owner of this.statement('SELECT id, pid, hostname, heartbeat_at FROM bw_owners WHERE id != ?').all(me.owner)) {
        const stale = Number(owner.heartbeat_at) < now - this.settings.leaseMs;
        const gone = owner.hostname === me.hostname && Number(owner.pid) !== process.pid && !pidAlive(Number(owner.pid));
        if (stale || gone) this.statement('DELETE FROM bw_owners WHERE id = ?').run(owner.id);
      }
      const orphans = this.statement(
        `SELECT ${COLUMNS} FROM bw_jobs WHERE state = 'running' AND (owner IS NULL OR owner != ?)
           AND (owner IS NULL OR owner NOT IN (SELECT id FROM bw_owners) OR lease_until < ?)`,
      )
        .all(me.owner, now)
        .map(toJob);
      const result: RecoveryResult = { requeued: [], failed: [] };
      for (const job of orphans) {
        const stalls = job.stalls + 1;
        const attempts = Math.max(job.attempts - 1, 0);
        if (stalls > this.settings.maxStalls) {
          const error: StoredJobError = {
            attempt: job.attempts,
            name: 'JobStalledError',
            message: `Job ${job.id} "${job.name}" was orphaned ${stalls} times (its process died while running it); maxStalls is ${this.settings.maxStalls}`,
            at: now,
          };
          this.statement(
            "UPDATE bw_jobs SET state = 'failed', stalls = ?, attempts = ?, errors = json_insert(errors, '$[#]', json(?)), finished_at = ?, owner = NULL, lease_until = NULL WHERE id = ?",
          ).run(stalls, attempts, JSON.stringify(error), now, job.id);
          result.failed.push({ ...job, state: 'failed', stalls, attempts, finishedAt: now, errors: JSON.stringify([...JSON.parse(job.errors), error]) });
        } else {
          this.statement("UPDATE bw_jobs SET state = 'pending', stalls = ?, attempts = ?, owner = NULL, lease_until = NULL WHERE id = ?").run(stalls, attempts, job.id);
          result.requeued.push({ ...job, state: 'pending', stalls, attempts });
        }
      }
      return result;
    });
  }

  async get(id: string): Promise<StoredJob | undefined> {
    const row = this.read('read a job', () => this.statement(`SELECT ${COLUMNS} FROM bw_jobs WHERE id = ?`).get(id));
    return row === undefined ? undefined : toJob(row);
  }

  async list(filter: StoreListFilter): Promise<StoredJob[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.after !== undefined) (where.push('id > ?'), params.push(filter.after));
    if (filter.queue !== undefined) (where.push('queue = ?'), params.push(filter.queue));
    if (filter.name !== undefined) (where.push('name = ?'), params.push(filter.name));
    if (filter.states !== undefined) {
      if (filter.states.length === 0) return [];
      where.push(`state IN (${filter.states.map(() => '?').join(', ')})`);
      params.push(...filter.states);
    }
    const sql = `SELECT ${COLUMNS} FROM bw_jobs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`;
    return this.read('list jobs', () => this.statement(sql).all(...params, filter.limit)).map(toJob);
  }

  async cancel(id: string, error: StoredJobError, now: number): Promise<'cancelled' | 'requested' | false> {
    return this.write('cancel a job', () => {
      const row = this.statement('SELECT state FROM bw_jobs WHERE id = ?').get(id);
      const state = row?.state as JobState | undefined;
      if (state === 'scheduled' || state === 'pending') {
        this.statement("UPDATE bw_jobs SET state = 'cancelled', errors = json_insert(errors, '$[#]', json(?)), finished_at = ? WHERE id = ?").run(JSON.stringify(error), now, id);
        return 'cancelled';
      }
      if (state === 'running') {
        this.statement('UPDATE bw_jobs SET cancel_requested = 1 WHERE id = ?').run(id);
        return 'requested';
      }
      return false;
    });
  }

  async retry(id: string, now: number): Promise<boolean> {
    return this.write('retry a job', () => {
      const job = this.statement(`SELECT queue, key, state FROM bw_jobs WHERE id = ?`).get(id);
      if (job === undefined || (job.state !== 'failed' && job.state !== 'cancelled')) return false;
      // Its key may be held by a newer active job: then it stays as it is.
      if (job.key !== null && this.statement("SELECT 1 AS x FROM bw_jobs WHERE queue = ? AND key = ? AND state IN ('scheduled', 'pending', 'running')").get(job.queue, job.key)) return false;
      this.statement("UPDATE bw_jobs SET state = 'pending', attempts = 0, stalls = 0, run_at = ?, finished_at = NULL, started_at = NULL WHERE id = ?").run(now, id);
      return true;
    });
  }

  async counts(queue?: string): Promise<Record<JobState, number>> {
    const rows = this.read('count jobs', () =>
      queue === undefined
        ? this.statement('SELECT state, COUNT(*) AS n FROM bw_jobs GROUP BY state').all()
        : this.statement('SELECT state, COUNT(*) AS n FROM bw_jobs WHERE queue = ? GROUP BY state').all(queue),
    );
    const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const row of rows) counts[row.state as JobState] = Number(row.n);
    return counts;
  }

  async nextRunAt(queue: string, names: readonly string[]): Promise<number | undefined> {
    if (names.length === 0) return undefined;
    const row = this.read('find the next scheduled job', () =>
      this.statement(`SELECT MIN(run_at) AS at FROM bw_jobs WHERE state = 'scheduled' AND queue = ? AND name IN (${names.map(() => '?').join(', ')})`).get(queue, ...names),
    );
    return row?.at === null || row?.at === undefined ? undefined : Number(row.at);
  }

  async oldestPending(queue?: string): Promise<number | undefined> {
    const row = this.read('find the oldest pending job', () =>
      queue === undefined
        ? this.statement("SELECT MIN(run_at) AS at FROM bw_jobs WHERE state = 'pending'").get()
        : this.statement("SELECT MIN(run_at) AS at FROM bw_jobs WHERE state = 'pending' AND queue = ?").get(queue),
    );
    return row?.at === null || row?.at === undefined ? undefined : Number(row.at);
  }

  async sweep(now: number): Promise<number> {
    let removed = 0;
    for (const state of ENDED) {
      const keep = this.settings.retention[state as 'succeeded' | 'failed' | 'cancelled'];
      if (keep === Infinity) continue;
      // Bounded batches, each its own short transaction, with a turn of the event loop between them.
      for (;;) {
        const changes = await this.write('sweep old jobs', () =>
          Number(
            this.statement(`DELETE FROM bw_jobs WHERE id IN (SELECT id FROM bw_jobs WHERE state = ? AND finished_at < ? LIMIT ${SWEEP_BATCH})`).run(state, now - keep).changes,
          ),
        );
        removed += changes;
        if (changes < SWEEP_BATCH) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return removed;
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  private get owner(): string {
    return this.context!.owner;
  }

  private database(): SqliteDatabase {
    if (this.db === undefined || this.closed) throw new Error(`sqlite store ${this.options.path} is ${this.closed ? 'closed' : 'not open'}`);
    return this.db;
  }

  private statement(sql: string): SqliteStatement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.database().prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** One transaction: committed, or rolled back with an error that names the file (disk full, read-only, I/O). */
  private async write<T>(what: string, body: () => T): Promise<T> {
    const db = this.database();
    try {
      db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      throw this.failure(what, error);
    }
    try {
      const result = body();
      db.exec('COMMIT');
      return result;
    } catch (error) {
      try {
        db.exec('ROLLBACK');
      } catch {
        // SQLite rolls back by itself after some errors (SQLITE_FULL): nothing left to undo.
      }
      throw this.failure(what, error);
    }
  }

  private read<T>(what: string, body: () => T): T {
    this.database();
    try {
      return body();
    } catch (error) {
      throw this.failure(what, error);
    }
  }

  private failure(what: string, error: unknown): Error {
    const code = (error as { code?: string }).code;
    return new Error(`sqlite store ${this.options.path} could not ${what}${code ? ` (${code})` : ''}: ${(error as Error).message}`, { cause: error });
  }
}

function resolveSqliteOptions(options: unknown): ResolvedSqliteOptions {
  const path = 'sqliteStore options';
  const o = checkObject(path, options, KEYS);
  return {
    path: resolve(checkString(`${path}.path`, o.path)),
    synchronous: o.synchronous === undefined ? 'normal' : checkOneOf(`${path}.synchronous`, o.synchronous, ['normal', 'full']),
    driver: o.driver === undefined ? undefined : checkOneOf(`${path}.driver`, o.driver, SQLITE_DRIVERS),
    settings: {
      leaseMs: o.leaseMs === undefined ? 30_000 : checkNumber(`${path}.leaseMs`, o.leaseMs, { min: 1_000, max: 2_147_483_647 }),
      maxStalls: o.maxStalls === undefined ? 2 : checkNumber(`${path}.maxStalls`, o.maxStalls, { min: 0, max: 1_000 }),
      pollMs: o.pollInterval === undefined ? 250 : checkNumber(`${path}.pollInterval`, o.pollInterval, { min: 10, max: 60_000 }),
      retention: resolveRetention(`${path}.retention`, o.retention),
    },
  };
}

/**
 * Jobs in a SQLite file: they survive a crash, a SIGKILL and a restart, with no server. Validated now; the file
 * is opened at bootstrap.
 */
export function sqliteStore(options: SqliteStoreOptions): JobStore {
  const resolved = resolveSqliteOptions(options);
  return new SqliteStore(resolved, () => loadSqliteDriver(resolved.driver));
}

/** A store on a given driver: for tests that make a driver fail (a full disk). @internal */
export function sqliteStoreWithDriver(options: SqliteStoreOptions, driver: SqliteDriver): JobStore {
  return new SqliteStore(resolveSqliteOptions(options), async () => driver);
}
