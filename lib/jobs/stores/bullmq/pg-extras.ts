import type { IndexEntry, StoreExtras } from './store-extras.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- pg is an optional peer, typed structurally here */

/** A schema or table name, quoted for SQL. */
const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * On PostgreSQL (BullMQ's PostgreSQL backend): tables `bw_index`, `bw_cancelled` and `bw_queues` in BullMQ's own
 * schema, and cancel() relayed with NOTIFY.
 */
export class PgExtras implements StoreExtras {
  private listener: any = undefined;
  private readonly channel: string;

  private constructor(
    private readonly pool: any,
    private readonly pg: any,
    private readonly clientConfig: Record<string, unknown>,
    private readonly schema: string,
  ) {
    this.channel = `bw_cancel_${schema}`.slice(0, 63);
  }

  /** Opens a pool of its own on BullMQ's connection settings and creates the tables when missing. */
  static async open(pg: any, connection: Record<string, unknown> | string, schema: string): Promise<PgExtras> {
    const config = typeof connection === 'string' ? { connectionString: connection } : { ...connection };
    for (const key of ['schema', 'migrate', 'skipMigrations', 'skipVersionCheck']) delete (config as Record<string, unknown>)[key];
    const pool = new pg.Pool({ ...config, max: 4 });
    pool.on('error', () => undefined);
    const s = quote(schema);
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await pool.query(`CREATE TABLE IF NOT EXISTS ${s}.bw_index (id text PRIMARY KEY, queue text NOT NULL)`);
    await pool.query(`CREATE TABLE IF NOT EXISTS ${s}.bw_cancelled (queue text NOT NULL, id text NOT NULL, record text NOT NULL, PRIMARY KEY (queue, id))`);
    await pool.query(`CREATE TABLE IF NOT EXISTS ${s}.bw_queues (name text PRIMARY KEY)`);
    return new PgExtras(pool, pg, config, schema);
  }

  private table(name: string): string {
    return `${quote(this.schema)}.${name}`;
  }

  async close(): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }

  async index(entries: readonly IndexEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.pool.query(`INSERT INTO ${this.table('bw_index')} (id, queue) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (id) DO NOTHING`, [
      entries.map((e) => e.id),
      entries.map((e) => e.queue),
    ]);
  }

  async unindex(entries: readonly IndexEntry[]): Promise<void> {
    if (entries.length > 0) await this.pool.query(`DELETE FROM ${this.table('bw_index')} WHERE id = ANY($1::text[])`, [entries.map((e) => e.id)]);
  }

  async queueOf(id: string): Promise<string | undefined> {
    const { rows } = await this.pool.query(`SELECT queue FROM ${this.table('bw_index')} WHERE id = $1`, [id]);
    return rows[0]?.queue;
  }

  async page(after: string | undefined, desc: boolean, count: number): Promise<IndexEntry[]> {
    const where = after === undefined ? '' : `WHERE id ${desc ? '<' : '>'} $2`;
    const { rows } = await this.pool.query(
      `SELECT id, queue FROM ${this.table('bw_index')} ${where} ORDER BY id ${desc ? 'DESC' : 'ASC'} LIMIT $1`,
      after === undefined ? [count] : [count, after],
    );
    return rows;
  }

  async archive(queue: string, id: string, record: string): Promise<void> {
    await this.pool.query(`INSERT INTO ${this.table('bw_cancelled')} (queue, id, record) VALUES ($1, $2, $3) ON CONFLICT (queue, id) DO UPDATE SET record = excluded.record`, [queue, id, record]);
  }

  async archived(queue: string, id: string): Promise<string | null> {
    const { rows } = await this.pool.query(`SELECT record FROM ${this.table('bw_cancelled')} WHERE queue = $1 AND id = $2`, [queue, id]);
    return rows[0]?.record ?? null;
  }

  async unarchive(queue: string, id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(`DELETE FROM ${this.table('bw_cancelled')} WHERE queue = $1 AND id = $2`, [queue, id]);
    return rowCount > 0;
  }

  async archivedCount(queue: string): Promise<number> {
    const { rows } = await this.pool.query(`SELECT count(*)::int AS n FROM ${this.table('bw_cancelled')} WHERE queue = $1`, [queue]);
    return rows[0].n;
  }

  async scanArchive(queue: string, each: (records: readonly string[]) => Promise<void>): Promise<void> {
    let after = '';
    for (;;) {
      const { rows } = await this.pool.query(`SELECT id, record FROM ${this.table('bw_cancelled')} WHERE queue = $1 AND id > $2 ORDER BY id LIMIT 500`, [queue, after]);
      if (rows.length === 0) return;
      await each(rows.map((r: { record: string }) => r.record));
      after = rows.at(-1).id;
    }
  }

  async addQueues(names: readonly string[]): Promise<void> {
    if (names.length > 0) await this.pool.query(`INSERT INTO ${this.table('bw_queues')} (name) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, [names]);
  }

  async queues(): Promise<string[]> {
    const { rows } = await this.pool.query(`SELECT name FROM ${this.table('bw_queues')} ORDER BY name`);
    return rows.map((r: { name: string }) => r.name);
  }

  async publishCancel(queue: string, id: string): Promise<void> {
    await this.pool.query('SELECT pg_notify($1, $2)', [this.channel, `${queue}|${id}`]);
  }

  async onCancel(listener: (queue: string, id: string) => void): Promise<void> {
    if (this.listener !== undefined) return;
    this.listener = new this.pg.Client(this.clientConfig);
    this.listener.on('error', () => undefined);
    this.listener.on('notification', (message: { payload?: string }) => {
      const text = message.payload ?? '';
      const bar = text.indexOf('|');
      listener(text.slice(0, bar), text.slice(bar + 1));
    });
    await this.listener.connect();
    await this.listener.query(`LISTEN ${quote(this.channel)}`);
  }

  async advice(): Promise<string | undefined> {
    return undefined;
  }
}
