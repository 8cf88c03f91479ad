/** One entry of the id index: a job and its queue. */
export interface IndexEntry {
  id: string;
  queue: string;
}

/**
 * What the store keeps beside BullMQ's own data, in the same server: an index of job ids (BullMQ's structures are
 * ordered by state, priority and time, never by id, and a job is found only by its queue), the cancelled jobs
 * (BullMQ has no such state), the names of the queues, and a channel that relays cancel() to the process running
 * the job. One implementation per backend.
 */
export interface StoreExtras {
  close(): Promise<void>;
  index(entries: readonly IndexEntry[]): Promise<void>;
  unindex(entries: readonly IndexEntry[]): Promise<void>;
  queueOf(id: string): Promise<string | undefined>;
  /** Up to `count` entries after (before, `desc`) the id `after`, in id order. */
  page(after: string | undefined, desc: boolean, count: number): Promise<IndexEntry[]>;
  archive(queue: string, id: string, record: string): Promise<void>;
  archived(queue: string, id: string): Promise<string | null>;
  /** Deletes the archived record; false when there was none. */
  unarchive(queue: string, id: string): Promise<boolean>;
  archivedCount(queue: string): Promise<number>;
  /** Every archived record of `queue`, a slice at a time. */
  scanArchive(queue: string, each: (records: readonly string[]) => Promise<void>): Promise<void>;
  addQueues(names: readonly string[]): Promise<void>;
  queues(): Promise<string[]>;
  publishCancel(queue: string, id: string): Promise<void>;
  /** Calls `listener` for every cancel() published by any process. */
  onCancel(listener: (queue: string, id: string) => void): Promise<void>;
  /** Something an operator should know about the server (an eviction policy), or undefined. */
  advice(): Promise<string | undefined>;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- ioredis is an optional peer, typed structurally here */

/** On Redis: keys under `prefix::bw:` (BullMQ's are `prefix:queue:`, and a queue name is never empty). */
export class RedisExtras implements StoreExtras {
  private subscriber: any = undefined;

  constructor(
    private readonly client: any,
    private readonly prefix: string,
  ) {}

  private key(...parts: string[]): string {
    return `${this.prefix}::bw:${parts.join(':')}`;
  }

  async close(): Promise<void> {
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }

  async index(entries: readonly IndexEntry[]): Promise<void> {
    if (entries.length > 0) await this.client.zadd(this.key('index'), ...entries.flatMap((e) => [0, `${e.id}|${e.queue}`]));
  }

  async unindex(entries: readonly IndexEntry[]): Promise<void> {
    if (entries.length > 0) await this.client.zrem(this.key('index'), ...entries.map((e) => `${e.id}|${e.queue}`));
  }

  async queueOf(id: string): Promise<string | undefined> {
    // Ids are of one length and have no '|' or '}': `id|queue` sorts between `[id|` and `(id}`.
    const [member] = (await this.client.zrangebylex(this.key('index'), `[${id}|`, `(${id}}`, 'LIMIT', 0, 1)) as string[];
    return member?.slice(member.indexOf('|') + 1);
  }

  async page(after: string | undefined, desc: boolean, count: number): Promise<IndexEntry[]> {
    const index = this.key('index');
    const members: string[] = desc
      ? await this.client.zrevrangebylex(index, after === undefined ? '+' : `(${after}|`, '-', 'LIMIT', 0, count)
      : await this.client.zrangebylex(index, after === undefined ? '-' : `(${after}}`, '+', 'LIMIT', 0, count);
    return members.map((m) => ({ id: m.slice(0, m.indexOf('|')), queue: m.slice(m.indexOf('|') + 1) }));
  }

  async archive(queue: string, id: string, record: string): Promise<void> {
    await this.client.hset(this.key('cancelled', queue), id, record);
  }

  archived(queue: string, id: string): Promise<string | null> {
    return this.client.hget(this.key('cancelled', queue), id);
  }

  async unarchive(queue: string, id: string): Promise<boolean> {
    return (await this.client.hdel(this.key('cancelled', queue), id)) > 0;
  }

  archivedCount(queue: string): Promise<number> {
    return this.client.hlen(this.key('cancelled', queue));
  }

  async scanArchive(queue: string, each: (records: readonly string[]) => Promise<void>): Promise<void> {
    let cursor = '0';
    do {
      const [next, entries] = (await this.client.hscan(this.key('cancelled', queue), cursor, 'COUNT', 500)) as [string, string[]];
      cursor = next;
      await each(entries.filter((_, i) => i % 2 === 1));
    } while (cursor !== '0');
  }

  async addQueues(names: readonly string[]): Promise<void> {
    if (names.length > 0) await this.client.sadd(this.key('queues'), ...names);
  }

  queues(): Promise<string[]> {
    return this.client.smembers(this.key('queues'));
  }

  async publishCancel(queue: string, id: string): Promise<void> {
    await this.client.publish(this.key('cancel'), `${queue}|${id}`);
  }

  async onCancel(listener: (queue: string, id: string) => void): Promise<void> {
    if (this.subscriber !== undefined) return;
    this.subscriber = this.client.duplicate();
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('message', (_channel: string, message: string) => {
      const bar = message.indexOf('|');
      listener(message.slice(0, bar), message.slice(bar + 1));
    });
    await this.subscriber.subscribe(this.key('cancel'));
  }

  async advice(): Promise<string | undefined> {
    try {
      const [, policy] = (await this.client.config('GET', 'maxmemory-policy')) as [string, string];
      if (policy !== undefined && policy !== 'noeviction') {
        return `has maxmemory-policy "${policy}": under memory pressure it may evict job keys; set it to "noeviction"`;
      }
    } catch {
      // CONFIG may be disabled (managed Redis): nothing to say
    }
    return undefined;
  }
}
