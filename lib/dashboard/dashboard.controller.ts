import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  Get,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  Param,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { LOG_CONTEXT } from '../background-work.constants.js';
import { BackgroundJobs } from '../jobs/background-jobs.js';
import { JOB_STATES, type JobRecord, type JobState } from '../jobs/job.types.js';
import { WorkMonitor } from '../monitoring/work-monitor.js';
import { cookieToken, newToken, tokenCookie } from './action-token.js';
import { DashboardAssets } from './dashboard-assets.js';
import { DashboardFeed } from './dashboard-feed.js';
import { renderPage, SECURITY_HEADERS } from './dashboard-page.js';
import { DASHBOARD_OPTIONS } from './dashboard.constants.js';
import type { ResolvedDashboardOptions } from './dashboard.options.js';
import { remoteAddress, requestPath, takeOver, type AnyRequest } from './http-exchange.js';
import { toDetail, toScheduleView, toSummary, type JobSummary, type ScheduleView } from './job-views.js';

const DEFAULT_PAGE = 25;
const MAX_PAGE = 100;
/** Failed jobs retried per "retry all" request; the page repeats it while some are left. */
export const RETRY_BATCH = 500;
const MAX_QUERY_CHARS = 512;
const JSON_TYPE = 'application/json; charset=utf-8';

/** What `GET api/jobs` answers: a page, and the cursor of the next one when there is more. */
export interface JobPage {
  jobs: JobSummary[];
  next: string | null;
}

/**
 * The dashboard's routes. `BackgroundWorkDashboardModule.forRoot` makes a subclass of it per dashboard, with the
 * path and the guards that its options say. Every answer is written here, through Nest's HTTP adapter (Express or
 * Fastify), so that an application's global interceptors cannot reshape what the page reads.
 */
@Injectable()
export class DashboardController {
  private readonly logger = new Logger(LOG_CONTEXT);

  constructor(
    @Inject(DASHBOARD_OPTIONS) private readonly options: ResolvedDashboardOptions,
    private readonly feed: DashboardFeed,
    private readonly assets: DashboardAssets,
    private readonly jobs: BackgroundJobs,
    private readonly monitor: WorkMonitor,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  @Get()
  page(@Req() request: AnyRequest, @Res() response: unknown): void {
    const base = requestPath(request).replace(/\/+$/, '');
    // One token per browser (kept while its cookie lives), checked against the cookie on every action.
    const token = cookieToken(request) ?? newToken();
    const html = renderPage({ base, token, readOnly: this.options.readOnly, version: this.assets.version });
    this.reply(response, 200, html, 'text/html; charset=utf-8', { 'Set-Cookie': tokenCookie(token, base || '/') });
  }

  @Get('assets/:file')
  asset(@Param('file') file: string, @Query('v') version: unknown, @Req() request: AnyRequest, @Res() response: unknown): void {
    const asset = this.assets.get(file);
    if (asset === undefined) throw new NotFoundException(`No dashboard asset named ${file}`);
    // The page asks for ?v=<hash of every asset>: such a URL never changes content, so it may be kept for good.
    const cache = version === this.assets.version ? 'public, max-age=31536000, immutable' : 'no-cache';
    const headers = { ETag: asset.etag, 'Cache-Control': cache };
    if (request.headers['if-none-match'] === asset.etag) return this.reply(response, 304, undefined, asset.type, headers);
    this.reply(response, 200, asset.body, asset.type, headers);
  }

  @Get('api/overview')
  async overview(@Res() response: unknown): Promise<void> {
    this.json(response, 200, await this.feed.snapshot());
  }

  @Get('api/stream')
  stream(@Res() response: unknown): void {
    this.feed.attach(takeOver(response));
  }

  @Get('api/jobs')
  async list(@Query() query: Record<string, unknown>, @Res() response: unknown): Promise<void> {
    const state = oneOf('state', query.state, ['all', ...JOB_STATES] as const) ?? 'all';
    const queue = text('queue', query.queue);
    const by = oneOf('by', query.by, ['name', 'key', 'id'] as const) ?? 'name';
    const search = text('q', query.q);
    const order = oneOf('order', query.order, ['asc', 'desc'] as const) ?? 'desc';
    const after = text('after', query.after);
    const limitText = text('limit', query.limit);
    const limit = limitText === undefined ? DEFAULT_PAGE : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new BadRequestException(`limit must be an integer from 1 to ${MAX_PAGE}`);
    const states = state === 'all' ? undefined : (state as JobState);

    let page: JobPage;
    if (search !== undefined && by === 'id') {
      const job = await this.jobs.get(search);
      const fits = job !== undefined && (states === undefined || job.state === states) && (queue === undefined || job.queue === queue);
      page = { jobs: fits ? [toSummary(job)] : [], next: null };
    } else {
      // One more than the page, so that a next page is offered only when there is one.
      const rows: JobRecord[] = await this.jobs.list({
        state: states,
        queue,
        name: by === 'name' ? search : undefined,
        key: by === 'key' ? search : undefined,
        order,
        after,
        limit: limit + 1,
      });
      const shown = rows.slice(0, limit);
      page = { jobs: shown.map(toSummary), next: rows.length > limit ? shown.at(-1)!.id : null };
    }
    this.json(response, 200, page);
  }

  @Get('api/jobs/:id')
  async job(@Param('id') id: string, @Res() response: unknown): Promise<void> {
    const job = await this.jobs.get(id);
    if (job === undefined) throw new NotFoundException(`No job ${id} in the store (it may have been swept after its retention)`);
    this.json(response, 200, toDetail(job));
  }

  /** The recurring schedules of the store, by id; `supported: false` for a store that keeps none. */
  @Get('api/schedules')
  async schedules(@Res() response: unknown): Promise<void> {
    if (!this.monitor.keepsSchedules) return this.json(response, 200, { supported: false, schedules: [] });
    const schedules: ScheduleView[] = (await this.jobs.schedules()).map(toScheduleView);
    this.json(response, 200, { supported: true, schedules });
  }

  @Post('api/jobs/retry-failed')
  async retryFailed(@Query('queue') queueParam: unknown, @Req() request: AnyRequest, @Res() response: unknown): Promise<void> {
    this.checkWritable();
    const queue = text('queue', queueParam);
    const failed = await this.jobs.list({ state: 'failed', queue, order: 'asc', limit: RETRY_BATCH });
    let retried = 0;
    for (const job of failed) if (await this.jobs.retry(job.id)) retried++;
    const remaining = (await this.jobs.stats(queue)).failed;
    this.logger.log(`Dashboard: ${retried} failed jobs${queue === undefined ? '' : ` of queue "${queue}"`} retried at the request of ${remoteAddress(request) ?? 'an unknown address'}`);
    this.json(response, 200, { retried, remaining });
  }

  @Post('api/jobs/:id/retry')
  async retry(@Param('id') id: string, @Req() request: AnyRequest, @Res() response: unknown): Promise<void> {
    this.checkWritable();
    if (!(await this.jobs.retry(id))) throw await this.refusal(id, 'retried', 'a failed or cancelled job');
    this.logger.log(`Dashboard: job ${id} retried at the request of ${remoteAddress(request) ?? 'an unknown address'}`);
    this.json(response, 200, { ok: true });
  }

  @Post('api/jobs/:id/cancel')
  async cancel(@Param('id') id: string, @Req() request: AnyRequest, @Res() response: unknown): Promise<void> {
    this.checkWritable();
    if (!(await this.jobs.cancel(id, 'from the dashboard'))) throw await this.refusal(id, 'cancelled', 'a scheduled, pending or running job');
    this.logger.log(`Dashboard: job ${id} cancelled at the request of ${remoteAddress(request) ?? 'an unknown address'}`);
    this.json(response, 200, { ok: true });
  }

  private checkWritable(): void {
    if (this.options.readOnly) {
      throw new ForbiddenException('The dashboard is read-only; BackgroundWorkDashboardModule.forRoot({ readOnly: false }) enables retry and cancel');
    }
  }

  private async refusal(id: string, done: string, only: string): Promise<Error> {
    const job = await this.jobs.get(id);
    if (job === undefined) return new NotFoundException(`No job ${id} in the store`);
    return new ConflictException(`Job ${id} is ${job.state}: only ${only} can be ${done}`);
  }

  private json(response: unknown, status: number, body: unknown): void {
    this.reply(response, status, JSON.stringify(body), JSON_TYPE, { 'Cache-Control': 'no-store' });
  }

  private reply(response: unknown, status: number, body: string | undefined, type: string, headers: Record<string, string>): void {
    const adapter = this.adapterHost.httpAdapter;
    for (const [name, value] of Object.entries({ ...SECURITY_HEADERS, 'Cache-Control': 'no-store', ...headers, 'Content-Type': type })) {
      adapter.setHeader(response, name, value);
    }
    adapter.reply(response, body, status);
  }
}

/** A query parameter given once, as text; a repeated one (an array) or one too long is a 400. */
function text(name: string, value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new BadRequestException(`${name} must be given once, as text`);
  if (value.length > MAX_QUERY_CHARS) throw new BadRequestException(`${name} must be at most ${MAX_QUERY_CHARS} characters`);
  return value;
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T | undefined {
  const given = text(name, value);
  if (given === undefined) return undefined;
  if (!allowed.includes(given as T)) throw new BadRequestException(`${name} must be ${allowed.join(', ')}`);
  return given as T;
}
