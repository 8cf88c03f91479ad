import { Injectable, Module, VersioningType, type CallHandler, type CanActivate, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { map, type Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundJobs, HostedService, Job, Recurring, memoryStore, type JobRecord } from 'nestjs-background-work';
import { gate, sleep } from '../support/create-app.js';
import { PLATFORMS, startDashboardApp, type DashboardApp } from '../support/dashboard-app.js';

/**
 * The dashboard over HTTP on Express and Fastify: what the page and its API answer, who is let in (loopback only
 * by default, a guard otherwise), what an action needs (writable, and the page's token), and the stream through a
 * drain. Requests from other addresses are injected through the application's whole pipeline, never sent from
 * outside this machine.
 */

@Job('send-email', { queue: 'email' })
class SendEmail {
  async run(payload: { to: string; fail?: string }): Promise<void> {
    if (payload.fail !== undefined) throw new Error(payload.fail);
  }
}

const EMAIL = { queues: { email: { concurrency: 2 } } };
const apps: DashboardApp[] = [];
afterEach(async () => {
  for (const { app } of apps.splice(0)) await app.close();
});

async function start(...args: Parameters<typeof startDashboardApp>): Promise<DashboardApp> {
  const started = await startDashboardApp(...args);
  apps.push(started);
  return started;
}

/** The token the page hands out, and the cookie that must come back with it. */
async function session(url: string): Promise<{ token: string; headers: Record<string, string> }> {
  const page = await fetch(url);
  const cookie = page.headers.getSetCookie().find((c) => c.startsWith('bw_dashboard_token='))!;
  const token = /name="bw-token" content="([^"]+)"/.exec(await page.text())![1];
  return { token, headers: { cookie: cookie.split(';')[0], 'x-bw-token': token } };
}

/** The body of an answer of the dashboard's API, as the page reads it. */
const json = (response: Response): Promise<any> => response.json();

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function failedJob(jobs: BackgroundJobs, fail: string, to = 'ada@example.com'): Promise<JobRecord> {
  const job = await jobs.enqueue(SendEmail, { to, fail });
  await until(async () => (await jobs.get(job.id))?.state === 'failed', `job ${job.id} to fail`);
  return job;
}

describe.each(PLATFORMS)('the dashboard on %s', (platform) => {
  describe('the page', () => {
    it('is served with its security headers, a SameSite cookie and its bundled assets', async () => {
      const { url } = await start(platform);
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const csp = page.headers.get('content-security-policy')!;
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      expect(page.headers.get('x-frame-options')).toBe('DENY');
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(page.headers.getSetCookie()).toEqual([expect.stringMatching(/^bw_dashboard_token=[\w-]{43}; Path=\/background; HttpOnly; SameSite=Strict$/)]);
      const html = await page.text();
      expect(html).toContain('<meta name="bw-base" content="/background">');
      expect(html).toContain('<meta name="bw-read-only" content="true">');
      // No inline script or style at all: everything comes from the bundled files.
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
      expect(html).not.toMatch(/<style|style=/);
      const script = /<script type="module" src="([^"]+)">/.exec(html)![1];
      const sheet = /<link rel="stylesheet" href="([^"]+)">/.exec(html)![1];
      for (const [asset, type] of [
        [script, 'text/javascript; charset=utf-8'],
        [sheet, 'text/css; charset=utf-8'],
      ]) {
        const response = await fetch(new URL(asset, url));
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toBe(type);
        expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        expect((await response.text()).length).toBeGreaterThan(1_000);
        const again = await fetch(new URL(asset, url), { headers: { 'if-none-match': response.headers.get('etag')! } });
        expect(again.status).toBe(304);
      }
      expect((await fetch(`${url}/assets/dashboard.js`)).headers.get('cache-control')).toBe('no-cache');
      for (const missing of ['nope.js', '..%2F..%2Fpackage.json', '%2E%2E%2Findex.js']) expect((await fetch(`${url}/assets/${missing}`)).status).toBe(404);
    });

    it('lives under its own path, the global prefix and URI versioning included', async () => {
      const { origin } = await start(platform, { path: '/admin/jobs' }, {}, [], {
        configure: (app) => app.setGlobalPrefix('ops').enableVersioning({ type: VersioningType.URI, defaultVersion: '1' }),
      });
      const page = await fetch(`${origin}/ops/admin/jobs`);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('<meta name="bw-base" content="/ops/admin/jobs">');
      expect(page.headers.getSetCookie()[0]).toContain('Path=/ops/admin/jobs;');
      expect((await fetch(`${origin}/ops/admin/jobs/api/overview`)).status).toBe(200);
      expect((await fetch(`${origin}/ops/admin/jobs/assets/dashboard.css`)).status).toBe(200);
      expect((await fetch(`${origin}/background`)).status).toBe(404);
    });

    it('answers in its own shape whatever global interceptors the application has', async () => {
      @Injectable()
      class Envelope implements NestInterceptor {
        intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
          return next.handle().pipe(map((data) => ({ data })));
        }
      }
      const { url } = await start(platform, {}, {}, [{ provide: APP_INTERCEPTOR, useClass: Envelope }]);
      const overview = await json(await fetch(`${url}/api/overview`));
      expect(overview.phase).toBe('running');
      expect((await fetch(url)).headers.get('content-type')).toBe('text/html; charset=utf-8');
    });
  });

  describe('who is let in', () => {
    const paths = ['/background', '/background/api/overview', '/background/api/jobs', '/background/api/stream', '/background/assets/dashboard.js'];

    it('refuses with 403, on every route, a request that does not come from this machine', async () => {
      const { from } = await start(platform, { readOnly: false });
      for (const path of paths) {
        const response = await from('203.0.113.7', path, { headers: { host: 'localhost:3000' } });
        expect(response.status, `${path}`).toBe(403);
        expect(response.body.message).toContain('answers local requests only, and it comes from 203.0.113.7, not from this machine');
      }
      const post = await from('10.1.2.3', '/background/api/jobs/x/retry', { method: 'POST', headers: { host: 'localhost' } });
      expect(post.status).toBe(403);
      expect(post.body.message).toContain('comes from 10.1.2.3');
    });

    it('lets in loopback in IPv4, IPv6 and IPv4-mapped form, to a loopback host name only, and not through a proxy', async () => {
      const { from } = await start(platform);
      const get = (address: string, headers: Record<string, string>) => from(address, '/background/api/overview', { headers });
      for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
        for (const host of ['localhost:3000', '127.0.0.1:3000', '[::1]:3000', 'app.localhost']) expect((await get(address, { host })).status, `${address} ${host}`).toBe(200);
      }
      // A site whose name was rebound to 127.0.0.1 sends its own name as Host.
      const rebound = await get('127.0.0.1', { host: 'attacker.example:3000' });
      expect(rebound.status).toBe(403);
      expect(rebound.body.message).toContain('its Host header is not a loopback name');
      // A proxy on this machine makes every client look local: its headers give it away.
      for (const name of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
        const proxied = await get('127.0.0.1', { host: 'localhost', [name]: '203.0.113.8' });
        expect(proxied.status, `${name}`).toBe(403);
        expect(proxied.body.message).toContain(`it came through a proxy (${name} header)`);
      }
      expect((await get('::ffff:10.0.0.1', { host: 'localhost' })).status).toBe(403);
    });

    it('lets a guard decide instead, a class with its own dependencies or an instance', async () => {
      @Injectable()
      class Tokens {
        readonly allowed = 'let-me-in';
      }
      @Module({ providers: [Tokens], exports: [Tokens] })
      class AuthModule {}
      @Injectable()
      class BearerGuard implements CanActivate {
        constructor(private readonly tokens: Tokens) {}
        canActivate(context: ExecutionContext): boolean {
          return context.switchToHttp().getRequest().headers.authorization === `Bearer ${this.tokens.allowed}`;
        }
      }
      const guarded = await start(platform, { guard: BearerGuard, imports: [AuthModule] });
      const from = (authorization?: string) =>
        guarded.from('203.0.113.7', '/background/api/overview', { headers: { host: 'jobs.example.com', ...(authorization ? { authorization } : {}) } });
      expect((await from('Bearer let-me-in')).status).toBe(200);
      expect((await from('Bearer nope')).status).toBe(403);
      expect((await from()).status).toBe(403);

      const closed = await start(platform, { guard: { canActivate: () => false } });
      expect((await fetch(closed.url)).status).toBe(403);
    });
  });

  describe('actions', () => {
    it('need the page token in a header and its cookie: without either, or from another site, 403', async () => {
      const { url, app } = await start(platform, { readOnly: false }, EMAIL, [SendEmail]);
      const job = await failedJob(app.get(BackgroundJobs), 'boom');
      const { token, headers } = await session(url);
      const retry = (extra: Record<string, string>) => fetch(`${url}/api/jobs/${job.id}/retry`, { method: 'POST', headers: extra });
      const refused = async (extra: Record<string, string>, reason: string) => {
        const response = await retry(extra);
        expect(response.status, `${reason}`).toBe(403);
        expect((await json(response)).message).toContain(reason);
      };
      await refused({}, 'it has no dashboard token');
      await refused({ 'x-bw-token': token }, 'it has no dashboard token');
      await refused({ cookie: headers.cookie }, 'it has no dashboard token');
      await refused({ ...headers, 'x-bw-token': token.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) }, 'its dashboard token is wrong');
      await refused({ ...headers, 'sec-fetch-site': 'cross-site' }, 'it was sent by another site (Sec-Fetch-Site: cross-site)');
      await refused({ ...headers, origin: 'http://attacker.example' }, 'its Origin http://attacker.example is not this page');
      expect((await app.get(BackgroundJobs).get(job.id))!.state).toBe('failed');

      const done = await retry({ ...headers, origin: new URL(url).origin, 'sec-fetch-site': 'same-origin' });
      expect(done.status).toBe(200);
      expect(await json(done)).toEqual({ ok: true });
      expect((await app.get(BackgroundJobs).get(job.id))!.attempts).toBeLessThanOrEqual(1);
      // Reading needs no token.
      expect((await fetch(`${url}/api/jobs/${job.id}`)).status).toBe(200);
    });

    it('are refused with 403 on a read-only dashboard, the default, even with the token', async () => {
      const { url, app } = await start(platform, {}, EMAIL, [SendEmail]);
      const job = await failedJob(app.get(BackgroundJobs), 'boom');
      const { headers } = await session(url);
      for (const action of [`jobs/${job.id}/retry`, `jobs/${job.id}/cancel`, 'jobs/retry-failed']) {
        const response = await fetch(`${url}/api/${action}`, { method: 'POST', headers });
        expect(response.status, `${action}`).toBe(403);
        expect((await json(response)).message).toContain('The dashboard is read-only');
      }
      expect((await app.get(BackgroundJobs).get(job.id))!.state).toBe('failed');
    });

    it('retry, cancel and retry all failed, answering 404 and 409 where the job cannot, and log who asked', async () => {
      const { url, app, logger } = await start(platform, { readOnly: false }, EMAIL, [SendEmail]);
      const jobs = app.get(BackgroundJobs);
      const failed = await Promise.all([1, 2, 3].map((n) => failedJob(jobs, `boom ${n}`, `user${n}@example.com`)));
      const waiting = await jobs.enqueue('nobody-runs-this', {}, { queue: 'email' });
      const { headers } = await session(url);
      const post = async (action: string) => {
        const response = await fetch(`${url}/api/${action}`, { method: 'POST', headers });
        return { status: response.status, body: await json(response) };
      };
      expect(await post(`jobs/${waiting.id}/retry`)).toMatchObject({ status: 409, body: { message: `Job ${waiting.id} is pending: only a failed or cancelled job can be retried` } });
      expect(await post('jobs/01NOSUCHJOB0000000000000000/retry')).toMatchObject({ status: 404 });
      expect(await post(`jobs/${waiting.id}/cancel`)).toEqual({ status: 200, body: { ok: true } });
      expect((await jobs.get(waiting.id))!.state).toBe('cancelled');
      expect(await post(`jobs/${waiting.id}/cancel`)).toMatchObject({ status: 409, body: { message: expect.stringContaining('is cancelled: only a scheduled, pending or running job can be cancelled') } });
      expect(logger.messages('log')).toContain(`Dashboard: job ${waiting.id} cancelled at the request of 127.0.0.1`);

      expect(await post('jobs/retry-failed?queue=email')).toEqual({ status: 200, body: { retried: 3, remaining: expect.any(Number) } });
      await until(async () => (await jobs.stats('email')).failed === 3 && (await Promise.all(failed.map((j) => jobs.get(j.id)))).every((j) => j!.attempts === 1), 'the retried jobs to fail again');
      expect(logger.messages('log')).toContain('Dashboard: 3 failed jobs of queue "email" retried at the request of 127.0.0.1');
    });
  });

  describe('the jobs API', () => {
    it('pages jobs by state through the store, newest first by default, with search by name, key or id', async () => {
      const { url, app } = await start(platform, {}, EMAIL);
      const jobs = app.get(BackgroundJobs);
      const made = await jobs.enqueueMany(Array.from({ length: 7 }, (_, i) => ({ job: i % 2 === 0 ? 'even' : 'odd', payload: { i }, options: { key: `k${i}`, queue: 'email' } })));
      const get = async (query: string) => json(await fetch(`${url}/api/jobs?${query}`));
      const first = await get('limit=3');
      expect(first.jobs.map((j: { id: string }) => j.id)).toEqual(made.toReversed().slice(0, 3).map((j) => j.id));
      const second = await get(`limit=3&after=${first.next}`);
      expect(second.jobs.map((j: { id: string }) => j.id)).toEqual(made.toReversed().slice(3, 6).map((j) => j.id));
      const last = await get(`limit=3&after=${second.next}`);
      expect(last).toEqual({ jobs: [expect.objectContaining({ id: made[0].id })], next: null });
      expect((await get('state=pending&order=asc&limit=2')).jobs.map((j: { id: string }) => j.id)).toEqual([made[0].id, made[1].id]);
      expect((await get('state=failed')).jobs).toEqual([]);
      expect((await get('by=name&q=odd')).jobs.map((j: { payload: { text: string } }) => j.payload.text)).toEqual(['{"i":5}', '{"i":3}', '{"i":1}']);
      expect((await get('by=key&q=k4')).jobs.map((j: { id: string }) => j.id)).toEqual([made[4].id]);
      expect((await get(`by=id&q=${made[2].id}`)).jobs.map((j: { id: string }) => j.id)).toEqual([made[2].id]);
      expect((await get(`by=id&q=${made[2].id}&state=failed`)).jobs).toEqual([]);
      for (const bad of ['state=done', 'limit=0', 'limit=101', 'order=up', 'by=payload&q=x', 'state=failed&state=pending', `q=${'x'.repeat(600)}`]) {
        expect((await fetch(`${url}/api/jobs?${bad}`)).status, `${bad}`).toBe(400);
      }
    });

    it('shows a job as BackgroundJobs.get() has it, its payload cut to size, its errors latest first with their stacks', async () => {
      const { url, app } = await start(platform, {}, EMAIL, [SendEmail]);
      const jobs = app.get(BackgroundJobs);
      const job = await failedJob(jobs, 'SMTP 550: mailbox unavailable', `${'x'.repeat(100_000)}@example.com`);
      const detail = await json(await fetch(`${url}/api/jobs/${job.id}`));
      expect(Object.keys(detail).toSorted()).toEqual(
        ['attempts', 'createdAt', 'errors', 'finishedAt', 'group', 'id', 'key', 'maxAttempts', 'name', 'payload', 'priority', 'progress', 'queue', 'result', 'runAt', 'stalls', 'startedAt', 'state', 'timeline'].toSorted(),
      );
      expect(detail).toMatchObject({ id: job.id, name: 'send-email', queue: 'email', state: 'failed', attempts: 1, maxAttempts: 1 });
      expect(detail.payload.truncated).toBe(true);
      expect(detail.payload.text).toHaveLength(64 * 1024);
      expect(detail.payload.length).toBe(JSON.stringify((await jobs.get(job.id))!.payload, null, 2).length);
      expect(detail.errors).toEqual([{ attempt: 1, name: 'Error', message: 'SMTP 550: mailbox unavailable', stack: expect.stringContaining('at SendEmail.run'), at: expect.any(Number) }]);
      expect(detail.timeline.map((t: { what: string }) => t.what)).toEqual(['enqueued', 'attempt 1 started', 'attempt 1 failed: Error', 'failed']);
      const row = (await json(await fetch(`${url}/api/jobs?state=failed`))).jobs[0];
      expect(row.lastError).toEqual({ attempt: 1, name: 'Error', message: 'SMTP 550: mailbox unavailable', stack: null, at: expect.any(Number) });
      expect(row.payload.text).toHaveLength(300);
      expect((await fetch(`${url}/api/jobs/01NOSUCHJOB0000000000000000`)).status).toBe(404);
    });
  });

  describe('the schedules API', () => {
    it('lists the recurring schedules of the store, from @Recurring and from schedule(), with their next tick', async () => {
      @Recurring('0 3 * * *', { tz: 'Europe/Paris', payload: { region: 'eu' } })
      @Job('nightly-report')
      class NightlyReport {
        run(): void {}
      }
      const { url, app } = await start(platform, {}, {}, [NightlyReport]);
      await app.get(BackgroundJobs).schedule('tmp-cleanup', '*/10 * * * *', 'cleanup-tmp', { dir: '/tmp' }, { overlap: 'skip' });
      const answer = await json(await fetch(`${url}/api/schedules`));
      expect(answer.supported).toBe(true);
      expect(answer.schedules).toEqual([
        expect.objectContaining({ id: 'nightly-report', cron: '0 3 * * *', tz: 'Europe/Paris', name: 'nightly-report', source: 'decorator', payload: { text: '{"region":"eu"}', length: 15, truncated: false } }),
        expect.objectContaining({ id: 'tmp-cleanup', cron: '*/10 * * * *', tz: 'UTC', name: 'cleanup-tmp', overlap: 'skip', source: 'call', lastJobId: null }),
      ]);
      for (const schedule of answer.schedules) expect(schedule.nextRunAt).toBeGreaterThan(Date.now());
    });
  });

  describe('the overview', () => {
    it('says when the store fails, and keeps the last counts it read', async () => {
      const store = memoryStore();
      let failing = false;
      const countsByQueue = store.countsByQueue.bind(store);
      store.countsByQueue = (states) => (failing ? Promise.reject(new Error('disk I/O error')) : countsByQueue(states));
      const { url, app } = await start(platform, {}, { store, ...EMAIL });
      await app.get(BackgroundJobs).enqueue('elsewhere', {}, { queue: 'email' });
      await sleep(1_100); // past the counts' refresh interval
      let overview = await json(await fetch(`${url}/api/overview`));
      expect(overview.store).toMatchObject({ description: 'memory', durable: false, error: null });
      expect(overview.queues.find((q: { name: string }) => q.name === 'email').jobs.pending).toBe(1);
      failing = true;
      await sleep(1_100);
      overview = await json(await fetch(`${url}/api/overview`));
      expect(overview.store.error).toBe('job store memory: Error: disk I/O error');
      expect(overview.queues.find((q: { name: string }) => q.name === 'email').jobs.pending).toBe(1);
    });
  });

  describe('the live stream', () => {
    it('pushes snapshots through the drain, while new requests get 503 on Nest 12 (return503OnClosing), then ends so that the server can close', async () => {
      const release = gate();
      @HostedService()
      class Slow {
        async start(): Promise<void> {}
        async stop(): Promise<void> {
          await release.promise;
        }
      }
      const { url, app } = await start(platform, {}, { shutdownTimeout: 20_000 }, [Slow], { appOptions: { return503OnClosing: true } });
      const response = await fetch(`${url}/api/stream`);
      expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      const phases: string[] = [];
      let buffer = '';
      const reading = (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          buffer += decoder.decode(value, { stream: true });
          for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            if (event.startsWith('data: ')) phases.push(JSON.parse(event.slice(6)).phase);
          }
        }
      })();
      await until(() => phases.includes('running'), 'a first snapshot');
      const closing = app.close();
      apps.splice(0);
      await until(() => phases.includes('stopping'), 'a snapshot of the drain', 5_000);
      // Nest 12's adapters answer new requests 503 from the start of the stop (beforeClose); Nest 11 has no
      // return503OnClosing and serves them until its server closes, after the drain.
      const refusesWhileStopping = typeof (app.getHttpAdapter() as { beforeClose?: unknown }).beforeClose === 'function';
      expect((await fetch(`${url}/api/overview`)).status).toBe(refusesWhileStopping ? 503 : 200);
      release.open();
      await closing;
      await reading;
      expect(phases.at(-1)).toBe('stopped');
    });
  });
});
