import { Inject, Injectable, Optional, type OnApplicationShutdown } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { Subscription } from 'rxjs';
import { SHUTDOWN_GRACE_MS } from '../background-work.constants.js';
import { BackgroundHost } from '../hosting/background-host.js';
import { JOB_STATES, type JobState } from '../jobs/job.types.js';
import { describeError, errorStack } from '../log-text.js';
import { WorkMonitor, type HostPhase } from '../monitoring/work-monitor.js';
import type { TimePercentiles } from '../threads/worker-threads.js';
import { SECURITY_HEADERS } from './dashboard-page.js';
import { QueueHistory, type QueueHistoryView } from './throughput-history.js';

/** How often the open pages get a new snapshot: within Hangfire's 2 s, so a count changes on screen within a second. */
export const PUSH_MS = 1_000;
/** How often the queues' counters are read for the throughput history: a minute's figure is right to a second. */
const SAMPLE_MS = 1_000;
/** Counting ended jobs costs a read of their index: at most this share of the time goes to it (20 ms each second). */
const COUNT_SHARE = 0.02;
const COUNT_TIMEOUT_MS = 5_000;
/** How long after a stop began the streams end at the latest, should the host never say it stopped. */
const STREAM_END_MARGIN_MS = 5_000;

export interface QueueView {
  name: string;
  /** Configured in this process: false for a queue known only from jobs that other processes run. */
  local: boolean;
  closed: boolean;
  /** null: no limit. */
  concurrency: number | null;
  capacity: number | null;
  /** The dispatch engine's counters in this process (closures, and jobs once claimed). */
  work: { pending: number; running: number; succeeded: number; failed: number; cancelled: number; abandoned: number } | null;
  /** Stored jobs by state, across every process of the store. */
  jobs: Record<JobState, number> | null;
  history: QueueHistoryView | null;
}

export interface ServiceView {
  name: string;
  order: number;
  state: string;
  error: { name: string; message: string; stack: string | null } | null;
}

export interface ThreadsView {
  threads: number;
  maxThreads: number;
  queued: number;
  running: number;
  completed: number;
  utilization: number;
  runTime: TimePercentiles;
  waitTime: TimePercentiles;
}

/** Everything the page shows live: what the stream pushes and `api/overview` answers. */
export interface DashboardSnapshot {
  at: number;
  phase: HostPhase;
  /** While stopping and after: when the stop began and its deadline (epoch ms). */
  stop: { since: number; deadline: number } | null;
  store: { description: string; durable: boolean; error: string | null; countedAt: number | null };
  queues: QueueView[];
  services: ServiceView[];
  threads: ThreadsView | null;
}

interface Client {
  response: ServerResponse;
  /** Its socket buffer is full: it skips snapshots until it drains, so one slow page never holds memory. */
  blocked: boolean;
}

const finiteOrNull = (n: number): number | null => (Number.isFinite(n) ? n : null);

/**
 * The live side of the dashboard: each queue's last hour (throughput sampled from its counters, run times from its
 * events while a page is open), snapshots built once per push for every open page, and the server-sent event
 * streams that carry them, through the drain to its end (the streams close once the host has stopped, so that the
 * HTTP server can close behind them).
 */
@Injectable()
export class DashboardFeed implements OnApplicationShutdown {
  private readonly histories = new Map<string, QueueHistory>();
  /** The queues' events, listened to only while a page is open (a queue builds none while nobody listens). */
  private subscriptions: Subscription[] = [];
  private readonly sampler: NodeJS.Timeout;
  private readonly clients = new Set<Client>();
  private timer: NodeJS.Timeout | undefined;
  private pushing = false;
  private ended = false;
  private endTimer: NodeJS.Timeout | undefined;
  private counts: { value: Record<string, Partial<Record<JobState, number>>>; at: number; cost: number } | undefined;
  private countError: string | null = null;
  private counting: Promise<void> | undefined;

  private readonly monitor: WorkMonitor;

  // Optional, so that a missing BackgroundWorkModule is named here rather than as an unknown internal provider.
  constructor(@Optional() @Inject(WorkMonitor) monitor?: WorkMonitor, @Optional() @Inject(BackgroundHost) host?: BackgroundHost) {
    if (monitor === undefined || host === undefined) {
      throw new Error('BackgroundWorkDashboardModule shows what BackgroundWorkModule runs: import BackgroundWorkModule.forRoot() in the application too');
    }
    this.monitor = monitor;
    for (const queue of monitor.queues()) this.histories.set(queue.name, new QueueHistory());
    this.sample();
    this.sampler = setInterval(() => this.sample(), SAMPLE_MS);
    this.sampler.unref();
    host.stopping$.subscribe(() => {
      this.endTimer = setTimeout(() => void this.end(), monitor.shutdownTimeout + SHUTDOWN_GRACE_MS + STREAM_END_MARGIN_MS);
      this.endTimer.unref();
    });
    host.stopped$.subscribe(() => void this.end());
  }

  /** Opens a stream on `response` (taken over from the framework): a snapshot now, then one a second. */
  attach(response: ServerResponse): void {
    response.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': 'text/event-stream; charset=utf-8',
      // no-transform: a compression middleware would otherwise hold events back.
      'Cache-Control': 'no-store, no-transform',
      'X-Accel-Buffering': 'no',
    });
    response.write('retry: 2000\n\n');
    const client: Client = { response, blocked: false };
    this.clients.add(client);
    if (this.clients.size === 1 && !this.ended) this.listen();
    response.on('close', () => {
      this.clients.delete(client);
      if (this.clients.size > 0) return;
      this.unlisten();
      if (this.timer !== undefined) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    });
    const first = this.snapshot().then((snapshot) => this.send(client, snapshot));
    if (this.ended) {
      // Stopped: one last look, then the page waits for the next start.
      void first.then(() => response.end());
      return;
    }
    if (this.timer === undefined) {
      this.timer = setInterval(() => void this.push(), PUSH_MS);
      this.timer.unref();
    }
  }

  async snapshot(): Promise<DashboardSnapshot> {
    await this.refreshCounts();
    if (!this.ended) this.sample();
    const monitor = this.monitor;
    const stored = this.counts?.value ?? {};
    const names = [...new Set([...monitor.queues().map((q) => q.name), ...Object.keys(stored)])];
    const queues: QueueView[] = names.map((name) => {
      const queue = monitor.queues().find((q) => q.name === name);
      const counts = stored[name];
      const jobs = this.counts === undefined ? null : (Object.fromEntries(JOB_STATES.map((s) => [s, counts?.[s] ?? 0])) as Record<JobState, number>);
      if (queue === undefined) return { name, local: false, closed: false, concurrency: null, capacity: null, work: null, jobs, history: null };
      const s = queue.counts();
      return {
        name,
        local: true,
        closed: queue.isClosing,
        concurrency: finiteOrNull(s.concurrency),
        capacity: finiteOrNull(s.capacity),
        work: { pending: s.pending, running: s.running, succeeded: s.succeeded, failed: s.failed, cancelled: s.cancelled, abandoned: s.abandoned },
        jobs,
        history: this.histories.get(name)?.view() ?? null,
      };
    });
    const since = monitor.stoppingSince;
    const threads = monitor.threads();
    return {
      at: Date.now(),
      phase: monitor.phase,
      stop: since === undefined ? null : { since, deadline: since + monitor.shutdownTimeout },
      store: { ...monitor.store, error: this.countError, countedAt: this.counts?.at ?? null },
      queues,
      services: monitor.services().map((service) => ({
        name: service.name,
        order: service.order,
        state: service.state,
        error:
          service.error === undefined
            ? null
            : {
                name: service.error instanceof Error ? service.error.name : 'NonError',
                message: service.error instanceof Error ? service.error.message : describeError(service.error),
                stack: errorStack(service.error) ?? null,
              },
      })),
      threads:
        threads === undefined
          ? null
          : {
              threads: threads.threads,
              maxThreads: threads.maxThreads,
              queued: threads.queued,
              running: threads.running,
              completed: threads.completed,
              utilization: threads.utilization,
              runTime: threads.runTime,
              waitTime: threads.waitTime,
            },
    };
  }

  onApplicationShutdown(): void {
    this.unlisten();
    clearInterval(this.sampler);
    void this.end();
  }

  /** Throughput from the queues' counters, at no cost per item. */
  private sample(): void {
    for (const queue of this.monitor.queues()) {
      const { succeeded, failed } = queue.counts();
      this.histories.get(queue.name)?.sample(succeeded, failed);
    }
  }

  /** Run times from the queues' events, while a page is open: they cost each item a few µs while they are built. */
  private listen(): void {
    if (this.subscriptions.length > 0) return;
    for (const queue of this.monitor.queues()) {
      const history = this.histories.get(queue.name)!;
      this.subscriptions.push(queue.events$.subscribe((event) => history.observe(event)));
    }
  }

  private unlisten(): void {
    for (const subscription of this.subscriptions.splice(0)) subscription.unsubscribe();
    for (const history of this.histories.values()) history.forgetStarted();
  }

  /**
   * Stored counts, read again once they are older than a second, or than 50 times what the last read took (a
   * store of millions of ended jobs is counted less often rather than slowing the application down).
   */
  private refreshCounts(): Promise<void> {
    const last = this.counts;
    if (last !== undefined && Date.now() - last.at < Math.max(PUSH_MS - 50, last.cost / COUNT_SHARE)) return Promise.resolve();
    this.counting ??= (async () => {
      const began = performance.now();
      const answer = await this.monitor.jobCounts(COUNT_TIMEOUT_MS);
      if (answer.ok) {
        this.counts = { value: answer.value, at: Date.now(), cost: performance.now() - began };
        this.countError = null;
      } else {
        this.countError = answer.error;
        // Keep the last counts on screen, and do not ask a failing store again at once.
        this.counts = { value: last?.value ?? {}, at: Date.now(), cost: last?.cost ?? 0 };
      }
    })().finally(() => (this.counting = undefined));
    return this.counting;
  }

  private async push(): Promise<void> {
    if (this.pushing || this.clients.size === 0) return;
    this.pushing = true;
    try {
      const snapshot = await this.snapshot();
      for (const client of this.clients) this.send(client, snapshot);
    } finally {
      this.pushing = false;
    }
  }

  private send(client: Client, snapshot: DashboardSnapshot): void {
    const response = client.response;
    if (client.blocked || response.writableEnded || response.destroyed) return;
    if (!response.write(`data: ${JSON.stringify(snapshot)}\n\n`)) {
      client.blocked = true;
      response.once('drain', () => (client.blocked = false));
    }
  }

  /** The host stopped: every page gets the last snapshot and its stream ends, so that the server can close. */
  private async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.sample();
    clearInterval(this.sampler);
    this.unlisten();
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.endTimer !== undefined) clearTimeout(this.endTimer);
    this.timer = undefined;
    const clients = [...this.clients];
    if (clients.length === 0) return;
    const snapshot = await this.snapshot();
    for (const client of clients) {
      client.blocked = false;
      this.send(client, snapshot);
      client.response.end();
    }
  }
}
