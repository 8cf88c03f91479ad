import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Redis } from 'ioredis';
import { bullmqStore, memoryStore, sqliteStore, type BullmqStoreOptions, type JobStore, type SqliteDriverName } from 'nestjs-background-work';

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

export const REDIS_CONNECTION = { host: '127.0.0.1', port: 6379 };

/** Whether Redis answers PING on 127.0.0.1:6379 (within half a second). */
export function redisAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(REDIS_CONNECTION.port, REDIS_CONNECTION.host);
    const done = (answer: boolean): void => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

export const REDIS = await redisAnswers();

/** Key prefixes of this test run: one per test folder, so that runs and tests never share keys. */
const RUN = `bwtest-${process.pid}-${Date.now().toString(36)}`;
export const redisPrefix = (folder: string): string => `${RUN}-${basename(folder)}`;

/** Deletes every key under `prefix`. */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis({ ...REDIS_CONNECTION, lazyConnect: true });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Whether PostgreSQL answers on 127.0.0.1:5432 (database `test`) and pg loads. */
async function postgresAnswers(): Promise<boolean> {
  try {
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 1_000 });
    client.on('error', () => undefined);
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

export const POSTGRES = await postgresAnswers();

/** A schema of its own per test folder (BullMQ's tables and the store's). */
export const pgSchema = (folder: string): string => `${RUN}_${basename(folder)}`.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 63);

export function bullmqPostgresStore(folder: string, options: Partial<BullmqStoreOptions> = {}): JobStore {
  return bullmqStore({ backend: 'postgres', connection: { connectionString: PG_URL, schema: pgSchema(folder), migrate: true }, ...options });
}

export async function dropPgSchema(schema: string): Promise<void> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** A bullmqStore on the local Redis under the folder's own prefix. */
export function bullmqTestStore(folder: string, options: Partial<BullmqStoreOptions> = {}): JobStore {
  return bullmqStore({ connection: REDIS_CONNECTION, prefix: redisPrefix(folder), ...options });
}

/** Each store the job suites run on: memory, SQLite on every driver present, and BullMQ when Redis answers. */
export interface StoreCase {
  label: string;
  durable: boolean;
  /** The store's own workers fetch jobs (BullMQ): the few cases that differ by design check this. */
  delivers?: boolean;
  make(folder: string): JobStore;
  /** Removes what the store keeps outside the folder (Redis keys). */
  cleanup?(folder: string): Promise<void>;
}

export const STORE_CASES: StoreCase[] = [
  { label: 'memoryStore()', durable: false, make: () => memoryStore() },
  ...DRIVERS.map((driver) => ({
    label: `sqliteStore(${driver})`,
    durable: true,
    make: (folder: string) => sqliteStore({ path: join(folder, `${driver.replace(':', '-')}.db`), driver }),
  })),
  ...(REDIS
    ? [{ label: 'bullmqStore(redis)', durable: true, delivers: true, make: (folder: string) => bullmqTestStore(folder), cleanup: (folder: string) => deleteRedisKeys(redisPrefix(folder)) }]
    : []),
  ...(POSTGRES
    ? [{ label: 'bullmqStore(postgres)', durable: true, delivers: true, make: (folder: string) => bullmqPostgresStore(folder), cleanup: (folder: string) => dropPgSchema(pgSchema(folder)) }]
    : []),
];
