import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WorkerThreads } from 'nestjs-background-work';
import { PDFDocument } from 'pdf-lib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { configureApp } from '../sample/app.setup.js';
import type { FileJobView } from '../sample/file-jobs.js';
import { ReportsService } from '../sample/reports.service.js';
import { SAMPLE_CONFIG, type SampleConfig } from '../sample/sample.config.js';
import type { ThumbnailInput } from '../sample/tasks/thumbnail.task.js';
import { tempFolder } from './support/stores.js';

// The sample's emails are durable jobs: a fresh SQLite file for this run, set before the module is loaded.
const jobsFolder = tempFolder();
process.env.SAMPLE_JOBS_DB = jobsFolder.file();
const { AppModule } = await import('../sample/app.module.js');

// Short delays keep the email side of the sample quiet and fast; the SMTP sink takes any free port.
const config: SampleConfig = { smtpPort: 0, emailDelayMs: 20, outboxPollMs: 50, ratesFile: jobsFolder.file('rates.json') };
// Generous: worker threads compile the .ts task files on first use, and CI machines are slow.
const DONE = { timeout: 60_000, interval: 25 };
// Set SAMPLE_CPU_OUTPUT=/some/dir to keep the thumbnails and PDFs the test makes, to look at them.
const OUTPUT = process.env.SAMPLE_CPU_OUTPUT;

/** Awaits a POST, expects 202 with a pending job and returns the job's id. */
async function accepted(response: Promise<Response>): Promise<string> {
  const res = await response;
  const body = (await res.json()) as { id: string; state: string };
  // The body is in the comparison so that a 400 shows its message.
  expect({ status: res.status, body }).toMatchObject({ status: 202, body: { state: 'pending' } });
  return body.id;
}

// Each test may poll for up to DONE; the default test timeout is shorter.
describe('sample app: CPU work on worker threads', { timeout: 120_000 }, () => {
  let app: NestExpressApplication;
  let base: string;
  let closed = false;

  const get = (path: string): Promise<Response> => fetch(`${base}${path}`);
  const postReport = (body: unknown): Promise<Response> =>
    fetch(`${base}/reports`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  /** Polls `GET /<kind>/:id` until the job has ended; returns every view seen, the last one final. */
  async function poll(kind: 'thumbnails' | 'reports', id: string): Promise<FileJobView[]> {
    const views: FileJobView[] = [];
    await vi.waitFor(async () => {
      const view = (await (await get(`/${kind}/${id}`)).json()) as FileJobView;
      views.push(view);
      expect(view.state).not.toMatch(/^(pending|running)$/);
    }, DONE);
    return views;
  }

  async function fetchFile(path: string, type: string): Promise<Buffer> {
    const res = await get(path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(type);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(Number(res.headers.get('content-length'))).toBe(bytes.byteLength);
    if (OUTPUT !== undefined) {
      mkdirSync(OUTPUT, { recursive: true });
      writeFileSync(join(OUTPUT, path.slice(1).replaceAll('/', '-') + (type === 'application/pdf' ? '.pdf' : `.${type.slice(6)}`)), bytes);
    }
    return bytes;
  }

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
      .overrideProvider(SAMPLE_CONFIG)
      .useValue(config)
      .compile();
    app = configureApp(moduleRef.createNestApplication<NestExpressApplication>({ logger: ['error', 'warn'] }));
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    if (!closed) await app?.close();
    jobsFolder.cleanup();
  });

  it('resizes the bundled image to exactly the requested size (fit: cover, the default)', async () => {
    const id = await accepted(fetch(`${base}/thumbnails?width=160&height=120`, { method: 'POST' }));
    const views = await poll('thumbnails', id);
    expect(views.at(-1)).toEqual({ id, name: 'thumbnail:160x120', state: 'succeeded', progress: 1, file: `/thumbnails/${id}/file`, size: expect.any(Number) });
    // Honest progress for a one-step job: 0 while it waits or runs, 1 when done; nothing in between.
    for (const view of views) expect([0, 1]).toContain(view.progress);

    const png = await fetchFile(`/thumbnails/${id}/file`, 'image/png');
    expect(png.byteLength).toBe(views.at(-1)!.size);
    expect(await sharp(png).metadata()).toMatchObject({ format: 'png', width: 160, height: 120 });
  });

  it('resizes an uploaded image, moved to the thread rather than copied, within the box with fit: inside', async () => {
    // A 640 × 480 picture (4:3): inside a 200 × 200 box it becomes 200 × 150.
    const upload = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#2a9d8f' } })
      .composite([{ input: Buffer.from('<svg width="640" height="480"><circle cx="320" cy="240" r="200" fill="#e63946"/></svg>') }])
      .png()
      .toBuffer();
    const threads = app.get(WorkerThreads);
    const run = vi.spyOn(threads, 'run');
    try {
      const id = await accepted(
        fetch(`${base}/thumbnails?width=200&height=200&fit=inside&format=jpeg`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: upload }),
      );
      expect((await poll('thumbnails', id)).at(-1)).toMatchObject({ state: 'succeeded', progress: 1 });
      const jpeg = await fetchFile(`/thumbnails/${id}/file`, 'image/jpeg');
      expect(await sharp(jpeg).metadata()).toMatchObject({ format: 'jpeg', width: 200, height: 150 });

      // The upload went in the transfer list and is now detached on this side: it was moved, not copied.
      const [, input, options] = run.mock.calls.find(([task]) => String(task).includes('thumbnail.task'))!;
      const image = (input as ThumbnailInput).image!;
      expect(options?.transfer).toContain(image);
      expect(image.byteLength).toBe(0);
    } finally {
      run.mockRestore();
    }
  });

  it.each([
    ['no size', ''],
    ['a zero width', '?width=0&height=10'],
    ['a width that is not a number', '?width=abc'],
    ['a fractional height', '?height=1.5'],
    ['a width over the limit', '?width=5000'],
    ['a repeated width', '?width=10&width=20'],
    ['an unknown fit', '?width=10&fit=stretch'],
    ['an unknown format', '?width=10&format=gif'],
    ['an unknown parameter', '?width=10&quality=5'],
  ])('answers 400 to a thumbnail request with %s', async (_what, query) => {
    const res = await fetch(`${base}/thumbnails${query}`, { method: 'POST' });
    expect(res.status).toBe(400);
  });

  it('answers 400 to an image body that is not an image, 415 to a body of another type', async () => {
    const notAnImage = await fetch(`${base}/thumbnails?width=10`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: 'not a png' });
    expect(notAnImage.status).toBe(400);
    expect(((await notAnImage.json()) as { message: string }).message).toMatch(/not an image/);
    const text = await fetch(`${base}/thumbnails?width=10`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(text.status).toBe(415);
  });

  it('answers 413 to an upload over the size limit', async () => {
    const res = await fetch(`${base}/thumbnails?width=10`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(11 * 1024 * 1024) });
    expect(res.status).toBe(413);
  });

  it('renders a PDF report with the pages asked for, reporting its progress page by page', async () => {
    const pages = 12;
    const id = await accepted(postReport({ pages, title: 'Sample-CPU test report' }));
    const views = await poll('reports', id);
    expect(views.at(-1)).toMatchObject({ id, name: `report:${pages}p`, state: 'succeeded', progress: 1, file: `/reports/${id}/file` });
    // Every value seen is a whole number of pages done, and they never go back.
    const seen = views.map((v) => v.progress);
    for (const p of seen) expect(p * pages).toBeCloseTo(Math.round(p * pages), 9);
    expect(seen).toEqual(seen.toSorted((a, b) => a - b));

    const pdf = await fetchFile(`/reports/${id}/file`, 'application/pdf');
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const doc = await PDFDocument.load(pdf);
    expect(doc.getPageCount()).toBe(pages);
    expect(doc.getTitle()).toBe('Sample-CPU test report');
  });

  it("gets the task's last progress before the report's result, which is the PDF's bytes moved back from the thread", async () => {
    const item = app.get(ReportsService).enqueue({ title: 'Progress before result', pages: 3 });
    const bytes = await item.result;
    // The view forces 1 once a job has succeeded; the item itself shows what the task reported with context.progress().
    expect(item.progress).toBe(1);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect((await PDFDocument.load(bytes)).getPageCount()).toBe(3);
  });

  it.each([
    ['a body that is not an object', [1, 2]],
    ['zero pages', { pages: 0 }],
    ['too many pages', { pages: 501 }],
    ['fractional pages', { pages: 2.5 }],
    ['pages as a string', { pages: '3' }],
    ['an empty title', { title: ' ' }],
    ['a title too long', { title: 'x'.repeat(101) }],
    ['a title the PDF font cannot draw', { title: 'Report ✓' }],
    ['a two-line title', { title: 'Report\nBcc' }],
    ['an unknown field', { pages: 2, color: 'red' }],
  ])('answers 400 to a report request with %s', async (_what, body) => {
    expect((await postReport(body)).status).toBe(400);
  });

  it('answers 404 to an unknown job (ids are strings)', async () => {
    expect((await get('/thumbnails/abc')).status).toBe(404);
    expect((await get('/reports/abc/file')).status).toBe(404);
    expect((await get('/thumbnails/999999')).status).toBe(404);
    expect((await get('/reports/999999/file')).status).toBe(404);
  });

  it('terminates the thread of a report that is cancelled while it renders, and says why it has no file', async () => {
    const item = app.get(ReportsService).enqueue({ title: 'Cancelled', pages: 500 });
    await vi.waitFor(() => expect(item.progress).toBeGreaterThan(0), DONE);
    expect(item.cancel('no longer needed')).toBe(true);
    await expect(item.result).rejects.toMatchObject({ name: 'CancelledError' });

    const view = (await (await get(`/reports/${item.id}`)).json()) as FileJobView;
    expect(view).toMatchObject({ state: 'cancelled', error: expect.stringMatching(/^CancelledError/) });
    expect(view.progress).toBeLessThan(1);
    const file = await get(`/reports/${item.id}/file`);
    expect(file.status).toBe(409);
    expect(((await file.json()) as { message: string }).message).toMatch(/is cancelled/);
  });

  it('shows the cpu queue and the worker-thread pool on /status', async () => {
    const status = (await (await get('/status')).json()) as {
      queues: Record<string, { concurrency: number; succeeded: number }>;
      threads: { threads: number; completed: number; runTime: { p50: number } };
    };
    expect(status.queues.cpu).toMatchObject({ concurrency: 2, capacity: 20 });
    expect(status.queues.cpu.succeeded).toBeGreaterThanOrEqual(3);
    expect(status.threads.threads).toBeGreaterThanOrEqual(1);
    expect(status.threads.threads).toBeLessThanOrEqual(2);
    expect(status.threads.completed).toBeGreaterThanOrEqual(3);
    expect(status.threads.runTime.p50).toBeGreaterThan(0);
  });

  it('finishes the reports in flight and queued when the app closes', async () => {
    // Two long reports take both threads; the third waits in the cpu queue behind them.
    const sizes = [150, 150, 3];
    const ids: string[] = [];
    for (const pages of sizes) ids.push(await accepted(postReport({ pages })));
    await vi.waitFor(async () => {
      const view = (await (await get(`/reports/${ids[0]}`)).json()) as FileJobView;
      expect(view.state).toBe('running');
    }, DONE);
    expect((await get(`/reports/${ids[2]}/file`)).status).toBe(409);

    const reports = app.get(ReportsService);
    closed = true;
    await app.close();

    for (const [i, pages] of sizes.entries()) {
      expect(reports.view(ids[i])).toMatchObject({ state: 'succeeded', progress: 1 });
      const { file } = reports.file(ids[i]);
      expect((await PDFDocument.load(file!.bytes)).getPageCount()).toBe(pages);
    }
  });
});
