import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Post, type INestApplication } from '@nestjs/common';
import { APP_FILTER, HttpAdapterHost } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundQueue, BackgroundWorkExceptionFilter, BackgroundWorkModule, QueueClosedError } from 'nestjs-background-work';
import { CapturingLogger } from '../support/capturing-logger.js';
import { gate, sleep } from '../support/create-app.js';

/** Holds the work that the controller enqueues, so that the queue stays busy until the test lets it go. */
let held = gate();

@Controller()
class WorkController {
  constructor(private readonly queue: BackgroundQueue) {}

  @Post('work')
  enqueue(): { id: unknown } {
    return { id: this.queue.enqueue(() => held.promise, { name: 'report' }).id };
  }

  @Get('boom')
  boom(): never {
    throw new Error('not a queue error');
  }
}

type Platform = 'express' | 'fastify';
type Registration = 'useGlobalFilters(new …(adapterHost))' | 'useGlobalFilters(new …())' | 'APP_FILTER';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

let app: INestApplication | undefined;
afterEach(async () => {
  held.open();
  await app?.close();
  app = undefined;
  held = gate();
});

async function serve(platform: Platform, registration: Registration): Promise<{ url: string; app: INestApplication }> {
  const moduleRef = await Test.createTestingModule({
    imports: [BackgroundWorkModule.forRoot({ queue: { concurrency: 1, capacity: 1 }, shutdownTimeout: 10_000 })],
    controllers: [WorkController],
    providers: registration === 'APP_FILTER' ? [{ provide: APP_FILTER, useClass: BackgroundWorkExceptionFilter }] : [],
  }).compile();
  const options = { logger: new CapturingLogger() };
  app = platform === 'fastify' ? moduleRef.createNestApplication(new FastifyAdapter(), options) : moduleRef.createNestApplication(options);
  if (registration === 'useGlobalFilters(new …(adapterHost))') app.useGlobalFilters(new BackgroundWorkExceptionFilter(app.get(HttpAdapterHost)));
  if (registration === 'useGlobalFilters(new …())') app.useGlobalFilters(new BackgroundWorkExceptionFilter());
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, app };
}

/** One request on its own connection, so that no keep-alive socket holds the server open at close. */
function send(method: 'GET' | 'POST', url: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) as unknown }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const PLATFORMS: Platform[] = ['express', 'fastify'];
const REGISTRATIONS: Registration[] = ['useGlobalFilters(new …(adapterHost))', 'useGlobalFilters(new …())', 'APP_FILTER'];

describe.each(PLATFORMS)('BackgroundWorkExceptionFilter on %s', (platform) => {
  it.each(REGISTRATIONS)('answers a full queue with 503, Retry-After: 1 and Nest’s error body (%s)', async (registration) => {
    const { url } = await serve(platform, registration);
    expect((await send('POST', `${url}/work`)).status).toBe(201); // running
    expect((await send('POST', `${url}/work`)).status).toBe(201); // pending: the queue is now at capacity
    const full = await send('POST', `${url}/work`);
    expect(full.status).toBe(503);
    expect(full.headers['retry-after']).toBe('1');
    expect(full.headers['content-type']).toMatch(/^application\/json/);
    expect(full.body).toEqual({ statusCode: 503, message: 'Queue "default" is full: try again shortly', error: 'Service Unavailable' });
  });

  it.each(REGISTRATIONS)('answers an enqueue during the drain with 503 and Retry-After: 5 (%s)', async (registration) => {
    const served = await serve(platform, registration);
    const queue = served.app.get(BackgroundQueue);
    expect((await send('POST', `${served.url}/work`)).status).toBe(201); // keeps the drain, and the server, up
    const closing = served.app.close();
    app = undefined;
    // The queue closes a few ticks into the stop: wait for it rather than for a fixed time.
    while (!closedToWork(queue)) await sleep(5);
    const closed = await send('POST', `${served.url}/work`);
    held.open();
    await closing;
    expect(closed.status).toBe(503);
    expect(closed.headers['retry-after']).toBe('5');
    expect(closed.body).toEqual({ statusCode: 503, message: 'The server is shutting down: try again shortly', error: 'Service Unavailable' });
  });

  it('leaves other errors to Nest: a plain Error is still a 500', async () => {
    const { url } = await serve(platform, 'useGlobalFilters(new …(adapterHost))');
    const reply = await send('GET', `${url}/boom`);
    expect(reply.status).toBe(500);
    expect(reply.headers['retry-after']).toBeUndefined();
    expect(reply.body).toEqual({ statusCode: 500, message: 'Internal server error' });
  });
});

/** Whether the queue refuses work because shutdown began; an item it accepts instead just runs in the drain. */
function closedToWork(queue: BackgroundQueue): boolean {
  try {
    queue.enqueue(() => undefined);
    return false;
  } catch (error) {
    return error instanceof QueueClosedError;
  }
}
