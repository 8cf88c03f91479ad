import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BackgroundJobs, BackgroundQueue, Job, memoryStore, type JobContext, type JobRecord } from 'nestjs-background-work';
import { launchBrowser, type Browser } from '../support/browser.js';
import { gate, sleep } from '../support/create-app.js';
import { PLATFORMS, startDashboardApp, type DashboardApp } from '../support/dashboard-app.js';

/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) on Express and Fastify: live counts,
 * a failed job's stack, hostile text shown as text, retry where writable and nowhere when read-only, and the drain.
 * The figure for 100k stored jobs is in dashboard-scale.test.ts; screenshots for docs/ in dashboard-screenshots.test.ts.
 */

const attempts = new Map<string, number>();

/** Fails its first `failures` runs with `message` (every run, when failures is absent), then succeeds. */
@Job('send-email', { queue: 'email' })
class SendEmail {
  async run(payload: { to: string; message?: string; failures?: number }, context: JobContext): Promise<void> {
    const run = (attempts.get(context.id) ?? 0) + 1;
    attempts.set(context.id, run);
    if (payload.message !== undefined && run <= (payload.failures ?? Infinity)) throw new Error(payload.message);
  }
}

const HOSTILE_SCRIPT = '<script>window.__xss = "script"</script>';
const HOSTILE_IMG = '"><img src=x onerror="window.__xss = \'img\'">';
/** Set before the page's own script: a flag an injected script would set, and the CSP violations seen. */
const WATCH = `window.__xss = undefined; window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));`;

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

const apps: DashboardApp[] = [];
const pages: Page[] = [];
const problems: string[] = [];
afterEach(async () => {
  for (const page of pages.splice(0)) await page.close();
  for (const { app } of apps.splice(0)) await app.close();
  // The page's own script never throws, whatever it shows.
  const found = problems.splice(0);
  if (found.length > 0) throw new Error(`The page logged errors:\n${found.join('\n')}`);
});

async function open(d: DashboardApp, hash = ''): Promise<Page> {
  const page = await browser.context.newPage();
  pages.push(page);
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // The browser logs the answers the page expects: a refused action (4xx), a stopping app (503), a stopped one.
    const expected = /status of (40\d|503)|net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|CONNECTION_CLOSED|EMPTY_RESPONSE)/.test(message.text());
    if (message.type() === 'error' && !expected) problems.push(`console: ${message.text()}`);
  });
  page.setDefaultTimeout(10_000);
  await page.addInitScript({ content: WATCH });
  await page.goto(`${d.url}${hash}`);
  try {
    await ready(page);
  } catch (error) {
    throw new Error(`${d.url}${hash} did not get ready; it shows: ${await page.locator('body').textContent()}; problems: ${problems.join(' | ')}`, { cause: error });
  }
  return page;
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function failed(jobs: BackgroundJobs, payload: Parameters<SendEmail['run']>[0]): Promise<JobRecord> {
  const job = await jobs.enqueue(SendEmail, payload);
  await until(async () => (await jobs.get(job.id))?.state === 'failed', `job ${job.id} to fail`);
  return job;
}

const text = (page: Page, selector: string) => page.locator(selector).first().textContent();

/**
 * Waits for the page's first full draw. Locators, not waitForFunction: that evaluates a string in the page, which
 * the dashboard's CSP (no unsafe-eval) refuses, as it should.
 */
const ready = (page: Page) => page.locator('body[data-ready="true"]').waitFor({ state: 'attached' });

/** Waits until the element's text is exactly `value`. */
const shows = (page: Page, selector: string, value: string) => page.locator(selector, { hasText: new RegExp(`^${value}$`) }).waitFor({ timeout: 5_000 });

describe.each(PLATFORMS)('the dashboard in Chromium, on %s', (platform) => {
  async function start(readOnly = true): Promise<DashboardApp> {
    // forceCloseConnections: Chromium opens sockets ahead of need (preconnect); one that never carries a request
    // holds Node's server.close() until its headersTimeout, 60 s (docs/dashboard.md says so too).
    const d = await startDashboardApp(platform, { readOnly }, { store: memoryStore(), queues: { email: { concurrency: 2 } } }, [SendEmail], {
      appOptions: { forceCloseConnections: true },
    });
    apps.push(d);
    return d;
  }

  it("shows the overview's counts change live after an enqueue", async () => {
    const d = await start();
    const page = await open(d);
    expect(await text(page, '[data-queue="email"] [data-jobs="pending"] .value')).toBe('0');
    expect(await text(page, '[data-total="pending"] .figure')).toBe('0');
    expect(await page.locator('[data-connection="live"]').count()).toBe(1);

    // Jobs no process here runs stay pending; a closure held open stays running.
    await d.app.get(BackgroundJobs).enqueueMany([1, 2, 3].map((n) => ({ job: 'elsewhere', payload: { n }, options: { queue: 'email' } })));
    const hold = gate();
    d.app.get(BackgroundQueue).enqueue(() => hold.promise);
    await shows(page, '[data-queue="email"] [data-jobs="pending"] .value', '3');
    await shows(page, '[data-queue="default"] [data-work="running"] .value', '1');
    expect(await text(page, '[data-total="pending"] .figure')).toBe('3');
    hold.open();
    await shows(page, '[data-queue="default"] [data-work="succeeded"] .value', '1');
  });

  it("shows a failed job's error with its stack, latest first, and its payload on the failed tab", async () => {
    const d = await start();
    const job = await failed(d.app.get(BackgroundJobs), { to: 'grace@example.com', message: 'SMTP 550: mailbox unavailable' });
    const page = await open(d, '#/jobs?state=failed');
    const row = page.locator(`[data-job="${job.id}"]`);
    expect(await row.textContent()).toContain('Error: SMTP 550: mailbox unavailable');
    expect(await row.textContent()).toContain('{"to":"grace@example.com"');
    await row.locator('a').first().click();
    await page.waitForSelector('[data-stack]');
    const stack = await text(page, '[data-stack]');
    expect(stack).toMatch(/^Error: SMTP 550: mailbox unavailable\n\s+at SendEmail\.run/);
    expect(await text(page, '[data-job-detail] h2')).toContain('failed');
    expect(await page.locator('[data-timeline] li').allTextContents()).toEqual([
      expect.stringMatching(/enqueued$/),
      expect.stringMatching(/attempt 1 started$/),
      expect.stringMatching(/attempt 1 failed: Error$/),
      expect.stringMatching(/failed$/),
    ]);
  });

  it('renders a payload and an error message full of markup as text, and no script runs', async () => {
    const d = await start();
    const job = await failed(d.app.get(BackgroundJobs), { to: HOSTILE_IMG, message: `${HOSTILE_SCRIPT} ${HOSTILE_IMG}` });
    for (const hash of ['#/jobs?state=failed', `#/jobs/${job.id}`]) {
      const page = await open(d, hash);
      await page.waitForSelector(hash.includes('state') ? '[data-jobs-table]' : '[data-stack]');
      const main = (await page.locator('main').textContent())!;
      expect(main).toContain(HOSTILE_SCRIPT);
      expect(main).toContain(HOSTILE_IMG);
      // Nothing became an element, nothing ran, and nothing even tried (the CSP would have reported it).
      expect(await page.locator('main img, main script, main [onerror]').count()).toBe(0);
      await sleep(200);
      expect(await page.evaluate('window.__xss')).toBeUndefined();
      expect(await page.evaluate('window.__violations')).toEqual([]);
    }
  });

  it('retries a failed job, one or all, when writable', async () => {
    const d = await start(false);
    const jobs = d.app.get(BackgroundJobs);
    const once = await failed(jobs, { to: 'a@example.com', message: 'try again', failures: 1 });
    const page = await open(d, '#/jobs?state=failed');
    await page.locator(`[data-job="${once.id}"] [data-action="retry"]`).click();
    await until(async () => (await jobs.get(once.id))?.state === 'succeeded', 'the retried job to succeed');

    const more = await Promise.all([1, 2].map((n) => failed(jobs, { to: `${n}@example.com`, message: 'try again', failures: 1 })));
    await page.reload();
    await page.waitForSelector('[data-action="retry-all"]');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.locator('[data-action="retry-all"]').click();
    await page.waitForSelector('.notice.ok');
    expect(await text(page, '.notice.ok')).toBe('2 failed jobs retried.');
    await until(async () => (await Promise.all(more.map((j) => jobs.get(j.id)))).every((j) => j!.state === 'succeeded'), 'every retried job to succeed');
    // The job's own page has the button too.
    const again = await failed(jobs, { to: 'b@example.com', message: 'once more', failures: 1 });
    await page.goto(`${d.url}#/jobs/${again.id}`);
    await page.locator('[data-job-detail] [data-action="retry"]').click();
    await until(async () => (await jobs.get(again.id))?.state === 'succeeded', 'the job retried from its page to succeed');
  });

  it('offers no retry or cancel anywhere when read-only', async () => {
    const d = await start();
    const job = await failed(d.app.get(BackgroundJobs), { to: 'c@example.com', message: 'no' });
    await d.app.get(BackgroundJobs).enqueue('elsewhere', {}, { queue: 'email' });
    for (const hash of ['#/jobs?state=failed', '#/jobs', `#/jobs/${job.id}`]) {
      const page = await open(d, hash);
      await page.waitForSelector('[data-jobs-table], [data-job-detail]');
      expect(await page.locator('[data-action]').count(), `${hash}`).toBe(0);
      expect(await page.locator('header .badge', { hasText: 'read-only' }).count()).toBe(1);
    }
  });

  it('shows the drain while the application stops, then that it has stopped', async () => {
    const d = await start();
    const hold = gate();
    d.app.get(BackgroundQueue).enqueue(() => hold.promise, { name: 'slow-report' });
    const page = await open(d);
    const closing = d.app.close();
    apps.splice(0);
    await page.waitForSelector('[data-drain="stopping"]');
    expect(await text(page, '[data-draining="default"]')).toBe('Queue default: 1 running, 0 pending');
    expect(await text(page, '[data-phase]')).toBe('stopping');
    hold.open();
    await closing;
    await page.waitForSelector('[data-drain="stopped"]');
    expect(await text(page, '[data-phase]')).toBe('stopped');
    // The server is gone: the page says so instead of pretending to be live.
    await page.waitForSelector('[data-connection="offline"], [data-connection="polling"]');
  });
});
