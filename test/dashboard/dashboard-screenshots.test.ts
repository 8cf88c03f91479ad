import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BackgroundJobs,
  BackgroundQueue,
  BackgroundService,
  HostedService,
  InjectQueue,
  Job,
  Recurring,
  WorkerThreads,
  sqliteStore,
  type JobContext,
} from 'nestjs-background-work';
import { launchBrowser, type Browser } from '../support/browser.js';
import { gate, sleep } from '../support/create-app.js';
import { startDashboardApp, type DashboardApp } from '../support/dashboard-app.js';
import { tempFolder } from '../support/stores.js';

/**
 * A screenshot of every page of the dashboard, of an application doing what the sample does. Taken on every run
 * (so that each page must draw); written to docs/images/ only with UPDATE_SCREENSHOTS=1, so that a normal run
 * leaves the tree as it was. Otherwise they go to a temporary folder.
 */
const UPDATE = process.env.UPDATE_SCREENSHOTS === '1';
const folder = tempFolder();
const IMAGES = UPDATE ? fileURLToPath(new URL('../../docs/images/', import.meta.url)) : folder.dir;
const SPIN = new URL('../threads/tasks/spin.task.js', import.meta.url);

const sent = new Map<string, number>();

@Job('send-welcome-email', { queue: 'email', retry: { attempts: 3, delay: 10 } })
class SendWelcomeEmail {
  async run(payload: { to: string; locale: string; bounce?: boolean }, context: JobContext): Promise<void> {
    sent.set(context.id, (sent.get(context.id) ?? 0) + 1);
    await sleep(5 + (payload.to.length % 7) * 4);
    if (payload.bounce) throw new Error(`SMTP 550 5.1.1 <${payload.to}>: Recipient address rejected: User unknown in virtual mailbox table`);
  }
}

@Recurring('0 6 * * *', { id: 'invoices-eu', tz: 'Europe/Paris', payload: { invoice: 0 }, overlap: 'skip' })
@Job('render-invoice', { queue: 'reports' })
class RenderInvoice {
  constructor(private readonly threads: WorkerThreads) {}
  async run(payload: { invoice: number }): Promise<void> {
    await this.threads.run(SPIN, { ms: 40 + (payload.invoice % 5) * 20 });
  }
}

@HostedService({ order: 1 })
class OutboxPoller extends BackgroundService {
  protected async execute(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) await sleep(50);
  }
}

@HostedService({ order: 2 })
class ExchangeRatesFeed extends BackgroundService {
  protected async execute(): Promise<void> {
    await sleep(20);
    throw new Error('GET https://rates.example.com/latest: 503 Service Unavailable after 3 tries');
  }
}

@HostedService({ order: 3 })
class SearchIndexer {
  constructor(@InjectQueue('reports') private readonly reports: BackgroundQueue) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {
    await this.reports.onIdle();
  }
}

let browser: Browser;
let d: DashboardApp;
let page: Page;
const release = gate();

beforeAll(async () => {
  if (UPDATE) mkdirSync(IMAGES, { recursive: true });
  browser = await launchBrowser();
  d = await startDashboardApp(
    'express',
    { readOnly: false },
    {
      store: sqliteStore({ path: folder.file() }),
      onServiceError: 'log',
      shutdownTimeout: 30_000,
      queues: { email: { concurrency: 2 }, reports: { concurrency: 2 } },
      threads: { maxThreads: 2, minThreads: 0 },
    },
    [SendWelcomeEmail, RenderInvoice, OutboxPoller, ExchangeRatesFeed, SearchIndexer],
    { appOptions: { forceCloseConnections: true } },
  );
  // The page is open while the work runs: run times are measured while somebody watches.
  page = await browser.context.newPage();
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.goto(d.url);
  await page.locator('body[data-ready="true"]').waitFor({ state: 'attached' });
  const jobs = d.app.get(BackgroundJobs);
  const people = ['ada', 'grace', 'alan', 'barbara', 'edsger', 'margaret', 'donald', 'frances', 'john', 'radia'];
  await jobs.enqueueMany(
    Array.from({ length: 60 }, (_, i) => ({
      job: SendWelcomeEmail,
      payload: { to: `${people[i % people.length]}.${i}@example.com`, locale: i % 3 === 0 ? 'fr-FR' : 'en-GB', bounce: i % 17 === 5 },
      options: { key: `welcome-${i}` },
    })),
  );
  await jobs.enqueueMany(Array.from({ length: 12 }, (_, i) => ({ job: RenderInvoice, payload: { invoice: 2026_0400 + i } })));
  await jobs.enqueue(SendWelcomeEmail, { to: 'later@example.com', locale: 'en-GB' }, { delay: 3_600_000 });
  await jobs.schedule('weekly-digest', '0 8 * * MON', SendWelcomeEmail, { to: 'team@example.com', locale: 'en-GB' }, { tz: 'Europe/London' });
  await jobs.onIdle();
  // Work in flight while the pictures are taken: closures held open.
  for (let i = 0; i < 3; i++) d.app.get(BackgroundQueue).enqueue(() => release.promise, { name: `import-${i}` });
}, 120_000);

afterAll(async () => {
  release.open();
  await page?.close();
  await d?.app.close();
  await browser?.close();
  folder.cleanup();
});

async function shoot(hash: string, name: string, selector: string): Promise<void> {
  await page.goto(`${d.url}${hash}`);
  await page.locator('body[data-ready="true"]').waitFor({ state: 'attached' });
  await page.locator(selector).first().waitFor();
  await sleep(1_200); // a push or two, so that live figures have settled
  await page.screenshot({ path: join(IMAGES, `dashboard-${name}.png`), fullPage: true });
}

describe('screenshots of the dashboard', () => {
  it('of the overview, the jobs, a failed job, the schedules, the services and the threads', { timeout: 120_000 }, async () => {
    await shoot('#/', 'overview', '[data-queue="email"] [data-history]');
    expect(await page.locator('[data-queue]').count()).toBe(3);
    await shoot('#/jobs?state=failed', 'jobs', '[data-jobs-table]');
    expect(await page.locator('[data-job]').count()).toBe(4);
    const failed = await page.locator('[data-job]').first().getAttribute('data-job');
    await shoot(`#/jobs/${failed}`, 'job', '[data-stack]');
    await shoot('#/schedules', 'schedules', '[data-schedules-table]');
    expect(await page.locator('[data-schedule]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-schedule')))).toEqual(['invoices-eu', 'weekly-digest']);
    await shoot('#/services', 'services', '[data-service="ExchangeRatesFeed"]');
    expect(await page.locator('[data-service]').allTextContents()).toEqual([
      expect.stringContaining('OutboxPoller'),
      expect.stringContaining('ExchangeRatesFeed'),
      expect.stringContaining('SearchIndexer'),
    ]);
    // Both threads busy while the page looks.
    const threads = d.app.get(WorkerThreads);
    const spinning = [0, 1].map(() => threads.run(SPIN, { ms: 5_000 }));
    await shoot('#/threads', 'threads', '[data-utilization]');
    expect(Number(await page.locator('[data-utilization]').getAttribute('data-utilization'))).toBeGreaterThan(0);
    await Promise.all(spinning);
  });

  it('of the drain', { timeout: 120_000 }, async () => {
    await page.goto(`${d.url}#/`);
    await page.locator('body[data-ready="true"]').waitFor({ state: 'attached' });
    const closing = d.app.close();
    await page.locator('[data-drain="stopping"] [data-draining="default"]').waitFor();
    await sleep(1_500);
    await page.screenshot({ path: join(IMAGES, 'dashboard-drain.png'), fullPage: true });
    expect(await page.locator('[data-draining="default"]').textContent()).toBe('Queue default: 3 running, 0 pending');
    release.open();
    await closing;
  });
});
