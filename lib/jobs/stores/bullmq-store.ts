import { checkNumber, checkObject, checkOneOf, checkString, describe } from '../../validation.js';
import type { JobStore } from './job-store.js';
import { resolveRetention, type RetentionOptions } from './memory-store.js';
import { BullmqJobStore, type BullmqStoreConfig } from './bullmq/bullmq-job-store.js';

export interface BullmqStoreOptions {
  /**
   * Where Redis is: ioredis options (`{ host, port, password, tls, ... }`), a `redis://` URL, or an ioredis instance
   * (BullMQ duplicates it for its blocking connections). With `backend: 'postgres'`: pg pool options (with BullMQ's
   * `schema`, default `'bullmq'`, and `migrate: true` to create its tables) or a `postgres://` URL.
   */
  connection: Record<string, unknown> | string;
  /** The key prefix of every queue (BullMQ's `prefix`; Redis only: on PostgreSQL the schema). Default `'bw'`. */
  prefix?: string;
  /** `'redis'` (the default), or `'postgres'`: BullMQ's PostgreSQL backend (needs the optional peer pg). */
  backend?: 'redis' | 'postgres';
  /**
   * How long a worker's lock on a running job holds without renewal (renewed every half of it). A job whose process
   * died runs again after lockDuration + stalledInterval at most. Default 30_000.
   */
  lockDuration?: number;
  /** How often workers look for jobs whose lock expired (stalled). Default 30_000. */
  stalledInterval?: number;
  /** Stalls after which a job fails instead of running again (BullMQ's maxStalledCount). Default 1. */
  maxStalls?: number;
  retention?: RetentionOptions;
  /** How long bootstrap waits for Redis before it fails, naming host and port. Default 10_000. */
  connectTimeout?: number;
}

const KEYS = ['connection', 'prefix', 'backend', 'lockDuration', 'stalledInterval', 'maxStalls', 'retention', 'connectTimeout'];
const PATH = 'bullmqStore options';

/** `host:port` of a connection, for messages. */
function whereOf(connection: Record<string, unknown> | string, backend: 'redis' | 'postgres'): string {
  const defaultPort = backend === 'postgres' ? 5432 : 6379;
  if (typeof connection === 'object' && typeof connection.connectionString === 'string') return whereOf(connection.connectionString, backend);
  if (typeof connection === 'string') {
    try {
      const url = new URL(connection);
      return `${url.hostname}:${url.port || defaultPort}`;
    } catch {
      return connection;
    }
  }
  const options = (connection.options as Record<string, unknown> | undefined) ?? connection; // an ioredis instance keeps them here
  if (typeof options.path === 'string') return options.path;
  return `${typeof options.host === 'string' ? options.host : '127.0.0.1'}:${typeof options.port === 'number' || typeof options.port === 'string' ? options.port : defaultPort}`;
}

function checkConnection(connection: unknown, backend: 'redis' | 'postgres'): Record<string, unknown> | string {
  const isObject = connection !== null && typeof connection === 'object' && !Array.isArray(connection);
  if (backend === 'postgres') {
    if (typeof connection === 'string' && /^postgres(ql)?:\/\//.test(connection)) return connection;
    if (isObject) return connection as Record<string, unknown>;
    throw new TypeError(`${PATH}.connection must be pg pool options ({ connectionString, schema? }) or a postgres:// URL with backend 'postgres', got ${describe(connection)}`);
  }
  if (typeof connection === 'string') {
    if (/^rediss?:\/\//.test(connection)) return connection;
    throw new TypeError(`${PATH}.connection must be a redis:// or rediss:// URL, got ${describe(connection)}`);
  }
  if (isObject) return connection as Record<string, unknown>;
  throw new TypeError(`${PATH}.connection must be ioredis options ({ host, port }), a redis:// URL or an ioredis instance, got ${describe(connection)}`);
}

function resolveOptions(options: unknown): BullmqStoreConfig {
  const o = checkObject(PATH, options, KEYS);
  const backend = o.backend === undefined ? 'redis' : checkOneOf(`${PATH}.backend`, o.backend, ['redis', 'postgres'] as const);
  const connection = checkConnection(o.connection, backend);
  const schema = typeof connection === 'object' && typeof connection.schema === 'string' ? connection.schema : 'bullmq';
  const prefix = o.prefix === undefined ? 'bw' : checkString(`${PATH}.prefix`, o.prefix);
  if (/[\s{}]/.test(prefix)) throw new TypeError(`${PATH}.prefix must not contain spaces or braces, got ${describe(prefix)}`);
  const lockDuration = o.lockDuration === undefined ? 30_000 : checkNumber(`${PATH}.lockDuration`, o.lockDuration, { min: 1_000, max: 2_147_483_647 });
  const stalledInterval = o.stalledInterval === undefined ? 30_000 : checkNumber(`${PATH}.stalledInterval`, o.stalledInterval, { min: 500, max: 2_147_483_647 });
  const maxStalls = o.maxStalls === undefined ? 1 : checkNumber(`${PATH}.maxStalls`, o.maxStalls, { min: 0, max: 1_000 });
  return {
    connection,
    prefix,
    backend,
    schema,
    lockDuration,
    stalledInterval,
    maxStalls,
    connectTimeout: o.connectTimeout === undefined ? 10_000 : checkNumber(`${PATH}.connectTimeout`, o.connectTimeout, { min: 100, max: 2_147_483_647 }),
    settings: { leaseMs: lockDuration, maxStalls, pollMs: undefined, retention: resolveRetention(`${PATH}.retention`, o.retention) },
    where: whereOf(connection, backend),
  };
}

/**
 * Jobs on BullMQ (Redis, or BullMQ's PostgreSQL backend): the same `@Job` handlers and `BackgroundJobs` calls across any number of processes. Each
 * named queue is a BullMQ queue; each process runs one BullMQ Worker per queue it has handlers for, whose jobs run
 * in the queue's own engine (its concurrency, timeouts, cancellation and drain). bullmq and ioredis (pg for
 * PostgreSQL) are optional peers, loaded when the store opens.
 */
export function bullmqStore(options: BullmqStoreOptions): JobStore {
  return new BullmqJobStore(resolveOptions(options));
}
