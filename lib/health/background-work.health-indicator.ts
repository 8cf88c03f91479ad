import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { importModule } from '../import-module.js';
import { describeError } from '../log-text.js';
import { WorkMonitor } from '../monitoring/work-monitor.js';
import { checkString } from '../validation.js';
import { resolveHealthOptions, type BackgroundWorkHealthOptions, type ResolvedHealthOptions } from './health-options.js';

/** One queue in the indicator's details. */
export interface QueueHealth {
  /** Items waiting to start: closures pending plus due jobs pending in the store. */
  backlog: number;
  running: number;
  /** How long the oldest pending job has been due, in ms, when one is. */
  oldestPendingMs?: number;
}

/** What `isHealthy` resolves with: terminus's `HealthIndicatorResult`, typed here so that terminus stays optional. */
export type BackgroundWorkHealthResult<Key extends string = string> = Record<
  Key,
  {
    status: 'up' | 'down';
    /** Why it is down: every reason, joined. */
    message?: string;
    phase: 'starting' | 'running' | 'stopping' | 'stopped';
    queues: Record<string, QueueHealth>;
    /** Hosted services by state. */
    services: Record<string, number>;
  }
>;

interface HealthSession {
  up(data: object): Record<string, object>;
  down(data: object): Record<string, object>;
}
interface HealthIndicatorServiceLike {
  check(key: string): HealthSession;
}

/**
 * A health indicator for `@nestjs/terminus` (11 or later, through its `HealthIndicatorService`): down while the
 * application is stopping, when a hosted service has failed, when the job store cannot be reached, or past the
 * thresholds of backlog and oldest pending age; up with the counts. terminus is loaded at the first check, so an
 * application without it never loads it.
 *
 * ```ts
 * @Get('health') @HealthCheck()
 * check() {
 *   return this.health.check([() => this.background.isHealthy('background', { maxBacklog: 1_000 })]);
 * }
 * ```
 */
@Injectable()
export class BackgroundWorkHealthIndicator {
  private indicators: Promise<HealthIndicatorServiceLike> | undefined;

  constructor(
    private readonly monitor: WorkMonitor,
    private readonly moduleRef: ModuleRef,
  ) {}

  /**
   * @param key the key of the result in terminus's answer. Default `'background'`.
   * @throws TypeError or RangeError for a bad key or option, at the call
   */
  isHealthy<const Key extends string = 'background'>(key?: Key, options?: BackgroundWorkHealthOptions): Promise<BackgroundWorkHealthResult<Key>> {
    const name = key === undefined ? 'background' : checkString('BackgroundWorkHealthIndicator.isHealthy(key)', key);
    const known = this.monitor.queues().map((q) => q.name);
    const resolved = resolveHealthOptions('BackgroundWorkHealthIndicator.isHealthy options', options, known);
    return this.check(name, resolved) as Promise<BackgroundWorkHealthResult<Key>>;
  }

  private async check(key: string, options: ResolvedHealthOptions): Promise<BackgroundWorkHealthResult> {
    const session = (await this.indicatorService()).check(key);
    const monitor = this.monitor;
    const reasons: string[] = [];
    const phase = monitor.phase;
    if (phase !== 'running') reasons.push(phase === 'starting' ? 'the application is starting' : `the application is ${phase}`);

    const services: Record<string, number> = {};
    for (const service of monitor.services()) {
      services[service.state] = (services[service.state] ?? 0) + 1;
      if (service.state === 'failed') reasons.push(`hosted service ${service.name} failed: ${describeError(service.error)}`);
    }

    const queues = monitor.queues().filter((q) => options.queues === undefined || options.queues.includes(q.name));
    const names = queues.map((q) => q.name);
    // Only the active states: counting ended jobs is what costs on a large store, and a backlog needs none of it.
    const [counts, oldest] = await Promise.all([monitor.jobCounts(options.timeout, ['pending']), monitor.oldestPending(options.timeout, names)]);
    if (!counts.ok) reasons.push(counts.error);
    else if (!oldest.ok) reasons.push(oldest.error);
    const now = Date.now();
    const details: Record<string, QueueHealth> = {};
    for (const queue of queues) {
      const stats = queue.counts();
      const health: QueueHealth = { backlog: stats.pending + (counts.ok ? (counts.value[queue.name]?.pending ?? 0) : 0), running: stats.running };
      const oldestAt = oldest.ok ? oldest.value[queue.name] : undefined;
      if (oldestAt !== undefined) health.oldestPendingMs = Math.max(0, now - oldestAt);
      details[queue.name] = health;
      const maxBacklog = options.maxBacklog(queue.name);
      if (health.backlog > maxBacklog) reasons.push(`queue "${queue.name}" has ${health.backlog} items waiting, more than maxBacklog ${maxBacklog}`);
      const maxAge = options.maxPendingAge(queue.name);
      if (health.oldestPendingMs !== undefined && health.oldestPendingMs > maxAge) {
        reasons.push(`queue "${queue.name}": its oldest pending job has waited ${health.oldestPendingMs} ms, more than maxPendingAge ${maxAge}`);
      }
    }

    const data = { phase, queues: details, services };
    return (reasons.length === 0 ? session.up(data) : session.down({ message: reasons.join('; '), ...data })) as BackgroundWorkHealthResult;
  }

  /** terminus's own `HealthIndicatorService`: the application's instance when TerminusModule is imported. */
  private indicatorService(): Promise<HealthIndicatorServiceLike> {
    this.indicators ??= importModule('@nestjs/terminus').then(
      (terminus: { HealthIndicatorService?: new () => HealthIndicatorServiceLike }) => {
        const Service = terminus.HealthIndicatorService;
        if (typeof Service !== 'function') {
          throw new Error('BackgroundWorkHealthIndicator needs @nestjs/terminus 11 or later (it has no HealthIndicatorService): npm install @nestjs/terminus@latest');
        }
        try {
          return this.moduleRef.get(Service, { strict: false });
        } catch {
          return new Service(); // TerminusModule not imported: it has no dependencies
        }
      },
      (error: unknown) => {
        this.indicators = undefined;
        throw new Error(`BackgroundWorkHealthIndicator needs @nestjs/terminus: npm install @nestjs/terminus (${describeError(error)})`, { cause: error });
      },
    );
    return this.indicators;
  }
}
