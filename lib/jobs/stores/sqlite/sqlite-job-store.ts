import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { JOB_STATES, type JobState } from '../../job.types.js';
import type {
  ClaimedJob,
  FireResult,
  FiredSchedule,
  InsertResult,
  JobStore,
  JobUpdate,
  NewJob,
  NewSchedule,
  SchedulePlanner,
  StoredSchedule,
  RecoveryResult,
  StoreListFilter,
  StoreOpenContext,
  StoreSettings,
  StoredJob,
  StoredJobError,
} from '../job-store.js';
import type { SqliteDatabase, SqliteDriver, SqliteStatement, SqliteValuesStatement } from './sqlite-driver.js';
import { SqliteStoreError, storeError } from './errors.js';
import { PROCESS_STARTED_AT, isDeadOwner, type OwnerRecord } from './owners.js';
import { APPEND_ERROR, CLAIM_COLUMNS, JOB_COLUMNS, SCHEDULE_COLUMNS, claimValues, inClaimOrder, toClaimedJob, toJob, toSchedule } from './rows.js';
import { MIGRATIONS, migrate, newerSchemaError, readSchemaVersion, type Migration } from './sqlite-schema.js';

/** Everything sqliteStore() resolved from its options. */
export interface SqliteStoreConfig {
  /** Absolute. */
  path: string;
  synchronous: 'normal' | 'full';
  settings: StoreSettings;
  /** @internal Tests migrate with a longer list. */
  migrations?: readonly Migration[];
}

const ACTIVE = "('scheduled', 'pending', 'running')";
// cancel_requested is left as it is: only a running row's is read, and every claim resets it.
const RELEASE = 'owner = NULL, lease_until = NULL';
const MINE = "id = ? AND state = 'running' AND owner = ?";
// The statements of the enqueue path, made once: a statement is looked up by its text, and a text built at each
// call would be flattened and hashed again for every enqueue.
const INSERT_JOB = `INSERT INTO bw_jobs (id, name, queue, state, payload, key, grp, priority, max_attempts, run_at, created_at, options, trace)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
/**
 * A pending row of a group may be claimed when it is the group's head: no other active row holds the group, and
 * it holds it itself or is the group's first pending row in claim order (JobStore.claim). A row with no group
 * passes on its first term, read from the claim's index; the others read the two small group indexes.
 */
const GROUP_HEAD = `(j.grp IS NULL OR (
    NOT EXISTS (SELECT 1 FROM bw_jobs h WHERE h.queue = j.queue AND h.grp = j.grp AND h.grp_held = 1 AND h.state IN ${ACTIVE} AND h.rowid <> j.rowid)
    AND (j.grp_held = 1 OR j.rowid = (SELECT f.rowid FROM bw_jobs f WHERE f.queue = j.queue AND f.grp = j.grp AND f.state = 'pending' ORDER BY f.priority DESC, f.run_at, f.id LIMIT 1))))`;
const ACTIVE_BY_KEY = `SELECT ${JOB_COLUMNS} FROM bw_jobs WHERE queue = ? AND key = ? AND state IN ${ACTIVE}`;
/** Rows per DELETE of the sweep: each statement stays short, so other writers and the event loop are not held up. */
const SWEEP_BATCH = 1_000;

/**
 * Jobs in one SQLite file (WAL), shared by every process that opens it. The driver is synchronous: each call
 * runs to its end in one turn, inside one transaction when it writes, so no call sees another's half.
 */
export class SqliteJobStore implements JobStore {
  readonly description: string;
  readonly durable = true;
  readonly capabilities = { groups: true };
  readonly settings: StoreSettings;
  private readonly path: string;
  private db: SqliteDatabase | undefined;
  private transaction: <T>(fn: () => T) => T = unopened;
  private readonly statements = new Map<string, SqliteStatement>();
  private readonly claimStatements = new Map<string, SqliteValuesStatement>();
  private phase: 'new' | 'open' | 'closed' = 'new';
  private owner = '';
  private pid = 0;
  private host = '';

  constructor(
    private readonly config: SqliteStoreConfig,
    private readonly loadDriver: () => Promise<SqliteDriver>,
  ) {
    this.path = config.path;
    this.settings = config.settings;
    this.description = `sqlite ${config.path}`;
  }

  async open(context: StoreOpenContext): Promise<void> {
    if (this.phase === 'open') throw new SqliteStoreError(`sqlite store ${this.path} is already open`);
    this.checkFolder();
    const driver = await this.loadDriver();
    let db: SqliteDatabase;
    try {
      db = driver.open(this.path);
    } catch (error) {
      throw storeError(this.path, `open the file with ${driver.name}`, error);
    }
    const transaction = immediateTransaction(db);
    try {
      db.exec('PRAGMA busy_timeout = 5000');
      // Before anything writes (journal_mode does): a newer file is refused unchanged, a corrupt one fails here.
      const version = readSchemaVersion(db, this.path);
      const latest = (this.config.migrations ?? MIGRATIONS).at(-1)!.version;
      if (version > latest) throw newerSchemaError(this.path, version, latest);
      const mode = db.prepare('PRAGMA journal_mode = WAL').get();
      if (String(mode?.journal_mode).toLowerCase() !== 'wal' && this.path !== ':memory:') {
        throw new SqliteStoreError(`sqlite store ${this.path} could not switch to WAL mode (journal_mode is ${String(mode?.journal_mode)})`);
      }
      db.exec(`PRAGMA synchronous = ${this.config.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      // A checkpoint syncs the file: every 1000 pages (the default) it halves the claim rate on a VM's disk. The WAL
      // is cut back to 64 MB after each one.
      db.exec('PRAGMA wal_autocheckpoint = 10000');
      db.exec('PRAGMA journal_size_limit = 67108864');
      migrate(db, transaction, this.path, this.config.migrations);
      db.prepare(
        `INSERT INTO bw_owners (id, pid, hostname, process_started_at, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
      ).run(context.owner, context.pid, context.hostname, PROCESS_STARTED_AT, context.now, context.now);
    } catch (error) {
      try {
        db.close();
      } catch {
        // The open already failed; that error is the one to report.
      }
      throw storeError(this.path, 'open the file', error);
    }
    this.db = db;
    this.transaction = transaction;
    this.statements.clear();
    this.claimStatements.clear();
    this.owner = context.owner;
    this.pid = context.pid;
    this.host = context.hostname;
    this.phase = 'open';
  }

  async close(): Promise<void> {
    if (this.phase !== 'open') {
      if (this.phase === 'new') this.phase = 'closed';
      return;
    }
    const db = this.db!;
    this.phase = 'closed';
    this.db = undefined;
    this.statements.clear();
    this.claimStatements.clear();
    try {
      // Our running rows now have no owner: the next recover() of any process requeues them at once.
      db.prepare('DELETE FROM bw_owners WHERE id = ?').run(this.owner);
    } catch (error) {
      throw storeError(this.path, 'release its owner record', error);
    } finally {
      db.close();
    }
  }

  async insert(jobs: readonly NewJob[], now: number): Promise<InsertResult[]> {
    // One job without a key is one INSERT: SQLite's own statement transaction makes it all or nothing.
    return this.write('insert jobs', () => this.insertRows(jobs, now), jobs.length > 1 || (jobs.length === 1 && jobs[0].key !== null));
  }

  /** insert()'s work, inside the caller's transaction. */
  private insertRows(jobs: readonly NewJob[], now: number): InsertResult[] {
    const results: InsertResult[] = [];
    const add = this.statement(INSERT_JOB);
    for (const job of jobs) {
      if (job.key !== null) {
        const existing = this.statement(ACTIVE_BY_KEY).get(job.queue, job.key);
        if (existing !== undefined) {
          results.push({ job: toJob(existing), created: false });
          continue;
        }
      }
      const state: JobState = job.runAt > now ? 'scheduled' : 'pending';
      add.run(job.id, job.name, job.queue, state, job.payload, job.key, job.group, job.priority, job.maxAttempts, job.runAt, job.createdAt, job.options, job.trace);
      results.push({ job: newRow(job, state), created: true });
    }
    return results;
  }

  async claim(queue: string, names: readonly string[], limit: number, now: number): Promise<ClaimedJob[]> {
    if (names.length === 0 || limit < 1) return this.read('claim jobs', () => []);
    return this.write('claim jobs', () => {
      this.statement("UPDATE bw_jobs SET state = 'pending' WHERE state = 'scheduled' AND queue = ? AND run_at <= ?").run(queue, now);
      const rows = this.claimStatement(
        `UPDATE bw_jobs SET state = 'running', attempts = attempts + 1, started_at = ?, owner = ?, lease_until = ?, cancel_requested = 0, grp_held = grp IS NOT NULL
         WHERE rowid IN (SELECT rowid FROM bw_jobs j WHERE state = 'pending' AND queue = ? AND run_at <= ? AND name IN (${marks(names.length)}) AND ${GROUP_HEAD}
                         ORDER BY priority DESC, run_at, id LIMIT ?)
         RETURNING ${CLAIM_COLUMNS}`,
      ).all(now, this.owner, now + this.settings.leaseMs, queue, now, ...names, limit);
      return inClaimOrder(rows.map((values) => toClaimedJob(values, queue)));
    });
  }

  async settle(updates: readonly JobUpdate[], now: number): Promise<void> {
    return this.write('record the outcome of jobs', () => {
      // Runs of successes without a result (the common case) go in one statement each: half the cost of one a row.
      // Only consecutive ones, so that the updates still apply in their order.
      let plain: string[] = [];
      const flush = (): void => {
        if (plain.length === 1) this.statement(`UPDATE bw_jobs SET state = 'succeeded', finished_at = ?, ${RELEASE} WHERE ${MINE}`).run(now, plain[0], this.owner);
        else if (plain.length > 1) {
          this.statement(
            `UPDATE bw_jobs SET state = 'succeeded', finished_at = ?, ${RELEASE} WHERE id IN (SELECT value FROM json_each(?)) AND state = 'running' AND owner = ?`,
          ).run(now, JSON.stringify(plain), this.owner);
        }
        plain = [];
      };
      for (const update of updates) {
        if (update.type === 'succeeded' && update.result === null) {
          plain.push(update.id);
          continue;
        }
        flush();
        switch (update.type) {
          case 'succeeded':
            this.statement(`UPDATE bw_jobs SET state = 'succeeded', finished_at = ?, result = ?, ${RELEASE} WHERE ${MINE}`).run(now, update.result, update.id, this.owner);
            break;
          case 'failed':
          case 'cancelled': {
            const error = JSON.stringify(update.error);
            this.statement(`UPDATE bw_jobs SET state = ?, finished_at = ?, errors = ${APPEND_ERROR}, ${RELEASE} WHERE ${MINE}`).run(update.type, now, error, error, update.id, this.owner);
            break;
          }
          case 'retry': {
            const error = JSON.stringify(update.error);
            this.statement(
              `UPDATE bw_jobs SET state = CASE WHEN ? > ? THEN 'scheduled' ELSE 'pending' END, run_at = ?, errors = ${APPEND_ERROR}, ${RELEASE} WHERE ${MINE}`,
            ).run(update.runAt, now, update.runAt, error, error, update.id, this.owner);
            break;
          }
          case 'handBack':
            this.statement(`UPDATE bw_jobs SET state = 'pending', attempts = max(attempts - 1, 0), ${RELEASE} WHERE ${MINE}`).run(update.id, this.owner);
            break;
          case 'progress':
            this.statement(`UPDATE bw_jobs SET progress = ? WHERE ${MINE}`).run(update.progress, update.id, this.owner);
            break;
        }
      }
      flush();
    }, updates.length > 0);
  }

  async renew(now: number): Promise<string[]> {
    return this.write('renew leases', () => {
      this.statement("UPDATE bw_jobs SET lease_until = ? WHERE state = 'running' AND owner = ?").run(now + this.settings.leaseMs, this.owner);
      this.touchOwner(now);
      return this.statement("SELECT id FROM bw_jobs WHERE state = 'running' AND owner = ? AND cancel_requested = 1 ORDER BY id")
        .all(this.owner)
        .map((row) => row.id as string);
    });
  }

  async recover(now: number): Promise<RecoveryResult> {
    return this.write('recover orphaned jobs', () => {
      const { leaseMs, maxStalls } = this.settings;
      const owners = this.statement('SELECT id, pid, hostname, process_started_at, heartbeat_at FROM bw_owners WHERE id != ?').all(this.owner);
      for (const row of owners) {
        const owner: OwnerRecord = {
          id: row.id as string,
          pid: row.pid as number,
          hostname: row.hostname as string,
          processStartedAt: row.process_started_at as number,
          heartbeatAt: row.heartbeat_at as number,
        };
        if (isDeadOwner(owner, now, leaseMs, this.host)) this.statement('DELETE FROM bw_owners WHERE id = ?').run(owner.id);
      }
      // Our own record may have been reaped by a process that thought us dead: without it our jobs look orphaned.
      this.statement('INSERT INTO bw_owners (id, pid, hostname, process_started_at, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING').run(...this.ownerRow(now));
      const orphans = this.statement(
        `SELECT rowid AS row_id, ${JOB_COLUMNS} FROM bw_jobs
         WHERE state = 'running' AND (lease_until < ? OR owner IS NULL OR owner NOT IN (SELECT id FROM bw_owners)) ORDER BY id`,
      ).all(now);
      const result: RecoveryResult = { requeued: [], failed: [] };
      for (const row of orphans) {
        const job = toJob(row);
        job.attempts = Math.max(0, job.attempts - 1);
        job.stalls++;
        if (job.stalls > maxStalls) {
          job.errors = appendError(job.errors, {
            attempt: job.attempts,
            name: 'JobStalledError',
            message: `Job ${job.id} "${job.name}" was orphaned ${job.stalls} times (its process died while running it); maxStalls is ${maxStalls}`,
            at: now,
          });
          job.state = 'failed';
          job.finishedAt = now;
          result.failed.push(job);
        } else {
          job.state = 'pending';
          result.requeued.push(job);
        }
        this.statement(`UPDATE bw_jobs SET state = ?, attempts = ?, stalls = ?, errors = ?, finished_at = ?, ${RELEASE} WHERE rowid = ?`).run(
          job.state,
          job.attempts,
          job.stalls,
          job.errors,
          job.finishedAt,
          row.row_id,
        );
      }
      return result;
    });
  }

  async get(id: string): Promise<StoredJob | undefined> {
    return this.read('read a job', () => {
      const row = this.statement(`SELECT ${JOB_COLUMNS} FROM bw_jobs WHERE id = ?`).get(id);
      return row === undefined ? undefined : toJob(row);
    });
  }

  async list(filter: StoreListFilter): Promise<StoredJob[]> {
    return this.read('list jobs', () => {
      if (filter.states !== undefined && filter.states.length === 0) return [];
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (condition: string, ...values: unknown[]): void => {
        where.push(condition);
        params.push(...values);
      };
      if (filter.queue !== undefined) add('queue = ?', filter.queue);
      if (filter.name !== undefined) add('name = ?', filter.name);
      if (filter.key !== undefined) add('key = ?', filter.key);
      if (filter.states !== undefined) add(`state IN (${marks(filter.states.length)})`, ...filter.states);
      const descending = filter.order === 'desc';
      if (filter.after !== undefined) add(descending ? 'id < ?' : 'id > ?', filter.after);
      params.push(filter.limit);
      const sql = `SELECT ${JOB_COLUMNS} FROM bw_jobs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id${descending ? ' DESC' : ''} LIMIT ?`;
      return this.statement(sql).all(...params).map(toJob);
    });
  }

  async cancel(id: string, error: StoredJobError, now: number): Promise<'cancelled' | 'requested' | false> {
    return this.write('cancel a job', () => {
      const row = this.statement('SELECT state FROM bw_jobs WHERE id = ?').get(id);
      if (row?.state === 'scheduled' || row?.state === 'pending') {
        const text = JSON.stringify(error);
        this.statement(`UPDATE bw_jobs SET state = 'cancelled', finished_at = ?, errors = ${APPEND_ERROR}, ${RELEASE} WHERE id = ?`).run(now, text, text, id);
        return 'cancelled';
      }
      if (row?.state === 'running') {
        this.statement('UPDATE bw_jobs SET cancel_requested = 1 WHERE id = ?').run(id);
        return 'requested';
      }
      return false;
    });
  }

  async retry(id: string, now: number): Promise<boolean> {
    return this.write('retry a job', () => {
      const row = this.statement('SELECT state, queue, key FROM bw_jobs WHERE id = ?').get(id);
      if (row?.state !== 'failed' && row?.state !== 'cancelled') return false;
      // Another active job holds the key now: this one cannot be active beside it (the unique index says so too).
      if (row.key !== null && this.statement(`SELECT 1 AS taken FROM bw_jobs WHERE queue = ? AND key = ? AND state IN ${ACTIVE}`).get(row.queue, row.key)) return false;
      this.statement("UPDATE bw_jobs SET state = 'pending', attempts = 0, stalls = 0, run_at = ?, finished_at = NULL, grp_held = 0 WHERE id = ?").run(now, id);
      return true;
    });
  }

  async counts(queue?: string): Promise<Record<JobState, number>> {
    return this.read('count jobs', () => {
      // One statement, so one snapshot; each part reads its state's partial index.
      const q = queue === undefined ? '' : ' AND queue = ?';
      const sql = `SELECT 'pending' AS state, count(*) AS n FROM bw_jobs WHERE state = 'pending'${q}
        UNION ALL SELECT 'scheduled', count(*) FROM bw_jobs WHERE state = 'scheduled'${q}
        UNION ALL SELECT 'running', count(*) FROM bw_jobs WHERE state = 'running'${q}
        UNION ALL SELECT state, count(*) FROM bw_jobs WHERE state IN ('succeeded', 'failed', 'cancelled')${q} GROUP BY state`;
      const counts = Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as Record<JobState, number>;
      const params = queue === undefined ? [] : [queue, queue, queue, queue];
      for (const row of this.statement(sql).all(...params)) counts[row.state as JobState] = row.n as number;
      return counts;
    });
  }

  async countsByQueue(states: readonly JobState[] = JOB_STATES): Promise<Record<string, Partial<Record<JobState, number>>>> {
    return this.read('count jobs by queue', () => {
      // One statement, one snapshot. The active states read their partial indexes by queue; the ended ones are one
      // walk of theirs (a sort by queue on top), the costly part, so it is left out when not asked for.
      const parts = (['pending', 'scheduled', 'running'] as const)
        .filter((state) => states.includes(state))
        .map((state) => `SELECT queue, '${state}' AS state, count(*) AS n FROM bw_jobs WHERE state = '${state}' GROUP BY queue`);
      const ended = states.filter((state) => state === 'succeeded' || state === 'failed' || state === 'cancelled');
      if (ended.length > 0) {
        parts.push(`SELECT queue, state, count(*) AS n FROM bw_jobs WHERE state IN ('succeeded', 'failed', 'cancelled') AND state IN (${ended.map((s) => `'${s}'`).join(', ')}) GROUP BY state, queue`);
      }
      const out: Record<string, Partial<Record<JobState, number>>> = {};
      if (parts.length === 0) return out;
      for (const row of this.statement(parts.join(' UNION ALL ')).all()) {
        const queue = row.queue as string;
        out[queue] ??= Object.fromEntries(states.map((state) => [state, 0]));
        out[queue][row.state as JobState] = row.n as number;
      }
      return out;
    });
  }

  async nextRunAt(queue: string, names: readonly string[]): Promise<number | undefined> {
    return this.read('find the next scheduled job', () => {
      if (names.length === 0) return undefined;
      const row = this.statement(`SELECT run_at FROM bw_jobs WHERE state = 'scheduled' AND queue = ? AND name IN (${marks(names.length)}) ORDER BY run_at LIMIT 1`).get(
        queue,
        ...names,
      );
      return row === undefined ? undefined : (row.run_at as number);
    });
  }

  async oldestPending(queue?: string): Promise<number | undefined> {
    return this.read('find the oldest pending job', () => {
      const row =
        queue === undefined
          ? this.statement("SELECT min(run_at) AS at FROM bw_jobs WHERE state = 'pending'").get()
          : this.statement("SELECT min(run_at) AS at FROM bw_jobs WHERE state = 'pending' AND queue = ?").get(queue);
      return row?.at === null || row?.at === undefined ? undefined : (row.at as number);
    });
  }

  async sweep(now: number): Promise<number> {
    let removed = 0;
    for (const state of ['succeeded', 'cancelled', 'failed'] as const) {
      const keep = this.settings.retention[state];
      if (keep === Infinity) continue;
      for (;;) {
        // A close() during the pause ends the sweep quietly: what is left goes next time.
        if (removed > 0 && this.phase === 'closed') return removed;
        const changes = this.write('delete expired jobs', () =>
          Number(this.statement(`DELETE FROM bw_jobs WHERE rowid IN (SELECT rowid FROM bw_jobs WHERE state = ? AND finished_at <= ? LIMIT ${SWEEP_BATCH})`).run(state, now - keep).changes),
        );
        removed += changes;
        if (changes < SWEEP_BATCH) break;
        await nextTurn();
      }
    }
    return removed;
  }

  // ---- schedules ------------------------------------------------------------------------------------------------

  async upsertSchedule(schedule: NewSchedule, now: number): Promise<StoredSchedule> {
    return this.write('store a schedule', () => {
      // The stored next tick stays when the timing is unchanged (see the JobStore contract); one statement, so atomic.
      const row = this.statement(
        `INSERT INTO bw_schedules (${SCHEDULE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)
         ON CONFLICT (id) DO UPDATE SET
           next_run_at = CASE WHEN bw_schedules.cron = excluded.cron AND bw_schedules.tz = excluded.tz AND bw_schedules.next_run_at IS NOT NULL
                              THEN bw_schedules.next_run_at ELSE excluded.next_run_at END,
           cron = excluded.cron, tz = excluded.tz, overlap = excluded.overlap, misfire = excluded.misfire, source = excluded.source,
           name = excluded.name, queue = excluded.queue, payload = excluded.payload, priority = excluded.priority,
           max_attempts = excluded.max_attempts, options = excluded.options, updated_at = excluded.updated_at
         RETURNING ${SCHEDULE_COLUMNS}`,
      ).get(
        schedule.id,
        schedule.cron,
        schedule.tz,
        schedule.overlap,
        schedule.misfire,
        schedule.source,
        schedule.name,
        schedule.queue,
        schedule.payload,
        schedule.priority,
        schedule.maxAttempts,
        schedule.options,
        schedule.nextRunAt,
        now,
        now,
      );
      return toSchedule(row!);
    });
  }

  async removeSchedule(id: string): Promise<boolean> {
    return this.write('remove a schedule', () => Number(this.statement('DELETE FROM bw_schedules WHERE id = ?').run(id).changes) > 0);
  }

  async listSchedules(): Promise<StoredSchedule[]> {
    return this.read('list schedules', () => this.statement(`SELECT ${SCHEDULE_COLUMNS} FROM bw_schedules ORDER BY id`).all().map(toSchedule));
  }

  async fireDue(now: number, planner: SchedulePlanner): Promise<FireResult> {
    const nextAt = (): number | undefined => {
      const row = this.statement('SELECT min(next_run_at) AS at FROM bw_schedules WHERE next_run_at IS NOT NULL').get();
      return row?.at === null || row?.at === undefined ? undefined : (row.at as number);
    };
    // Nothing due, the common case: one read, no write lock.
    const first = this.read('find due schedules', nextAt);
    if (first === undefined || first > now) return { fired: [], nextAt: first };
    return this.write('fire due schedules', () => {
      // Read again under the write lock: another process may have fired them since.
      const due = this.statement(`SELECT ${SCHEDULE_COLUMNS} FROM bw_schedules WHERE next_run_at <= ? ORDER BY next_run_at, id`).all(now).map(toSchedule);
      const active = this.statement(`SELECT 1 AS active FROM bw_jobs WHERE id = ? AND state IN ${ACTIVE}`);
      const advance = this.statement('UPDATE bw_schedules SET next_run_at = ?, last_job_id = ? WHERE id = ?');
      const fired: FiredSchedule[] = [];
      for (const schedule of due) {
        const lastJobActive = schedule.lastJobId !== null && active.get(schedule.lastJobId) !== undefined;
        const plan = planner({ ...schedule }, now, lastJobActive);
        const jobs = this.insertRows(plan.jobs, now);
        const lastJobId = jobs.length > 0 ? jobs.at(-1)!.job.id : schedule.lastJobId;
        advance.run(plan.nextRunAt, lastJobId, schedule.id);
        fired.push({ schedule: { ...schedule, nextRunAt: plan.nextRunAt, lastJobId }, plan, jobs });
      }
      return { fired, nextAt: nextAt() };
    });
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  private checkFolder(): void {
    if (this.path === ':memory:') return;
    const folder = dirname(this.path);
    let isFolder: boolean;
    try {
      isFolder = statSync(folder).isDirectory();
    } catch {
      throw new SqliteStoreError(`sqlite store cannot open ${this.path}: its folder ${folder} does not exist (create it first)`);
    }
    if (!isFolder) throw new SqliteStoreError(`sqlite store cannot open ${this.path}: ${folder} is not a folder`);
  }

  private connection(): SqliteDatabase {
    if (this.phase === 'open') return this.db!;
    if (this.phase === 'closed') throw new SqliteStoreError(`sqlite store ${this.path} is closed`);
    throw new SqliteStoreError(`sqlite store ${this.path} is not open (call open() first)`);
  }

  /** Prepared once per connection. */
  private statement(sql: string): SqliteStatement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.connection().prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** A claim statement, prepared once per connection: rows as arrays of CLAIM_COLUMNS values where the driver can (see `prepareValues`). */
  private claimStatement(sql: string): SqliteValuesStatement {
    let statement = this.claimStatements.get(sql);
    if (statement === undefined) {
      const db = this.connection();
      if (db.prepareValues !== undefined) statement = db.prepareValues(sql);
      else {
        const byName = db.prepare(sql);
        statement = { all: (...params) => byName.all(...params).map(claimValues) };
      }
      this.claimStatements.set(sql, statement);
    }
    return statement;
  }

  /** `fn` in one write transaction: all of it or none of it. Synchronous, so a caller may use it in a loop. */
  private write<T>(doing: string, fn: () => T, needed = true): T {
    this.connection();
    try {
      return needed ? this.transaction(fn) : fn();
    } catch (error) {
      throw storeError(this.path, doing, error);
    }
  }

  private read<T>(doing: string, fn: () => T): T {
    this.connection();
    try {
      return fn();
    } catch (error) {
      throw storeError(this.path, doing, error);
    }
  }

  private ownerRow(now: number): unknown[] {
    return [this.owner, this.pid, this.host, PROCESS_STARTED_AT, now, now];
  }

  private touchOwner(now: number): void {
    this.statement(
      'INSERT INTO bw_owners (id, pid, hostname, process_started_at, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at',
    ).run(...this.ownerRow(now));
  }
}

function unopened(): never {
  throw new Error('unreachable: the store checks that it is open first');
}

/** BEGIN IMMEDIATE takes the write lock up front, so a transaction never fails midway on another writer's lock. */
function immediateTransaction(db: SqliteDatabase): <T>(fn: () => T) => T {
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  return <T>(fn: () => T): T => {
    begin.run();
    try {
      const result = fn();
      commit.run();
      return result;
    } catch (error) {
      try {
        rollback.run();
      } catch {
        // SQLite rolled back already (it does on SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM): nothing is left open.
      }
      throw error;
    }
  };
}

function marks(count: number): string {
  return count === 1 ? '?' : new Array(count).fill('?').join(', ');
}

function appendError(errors: string, error: StoredJobError): string {
  const text = JSON.stringify(error);
  return errors === '[]' ? `[${text}]` : `${errors.slice(0, -1)},${text}]`;
}

function newRow(job: NewJob, state: JobState): StoredJob {
  return {
    id: job.id,
    name: job.name,
    queue: job.queue,
    state,
    payload: job.payload,
    key: job.key,
    group: job.group,
    priority: job.priority,
    attempts: 0,
    maxAttempts: job.maxAttempts,
    stalls: 0,
    runAt: job.runAt,
    createdAt: job.createdAt,
    startedAt: null,
    finishedAt: null,
    progress: null,
    result: null,
    errors: '[]',
    options: job.options,
    trace: job.trace,
  };
}
