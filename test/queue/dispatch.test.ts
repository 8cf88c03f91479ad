import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundQueue, QueueFullError, getQueueToken, type WorkEvent } from 'nestjs-background-work';
import { gate, sleep, startApp, type TestApp } from '../support/create-app.js';

let current: TestApp | undefined;
afterEach(async () => {
  await current?.app.close();
  current = undefined;
});

async function queueOf(options: Parameters<typeof startApp>[0] = {}): Promise<BackgroundQueue> {
  current = await startApp(options);
  return current.app.get(BackgroundQueue);
}

describe('BackgroundQueue dispatch', () => {
  it('returns a pending item at once and runs the work later, never inside enqueue', async () => {
    const queue = await queueOf();
    let ran = false;
    const item = queue.enqueue(() => {
      ran = true;
      return 'done';
    });
    expect(ran).toBe(false);
    expect(item.state).toBe('pending');
    expect(item.attempt).toBe(0);
    await expect(item.result).resolves.toBe('done');
    expect(item.state).toBe('succeeded');
    expect(item.attempt).toBe(1);
  });

  it('starts items in FIFO order', async () => {
    const queue = await queueOf({ queue: { concurrency: 1 } });
    const started: number[] = [];
    for (let i = 0; i < 20; i++) {
      queue.enqueue(async () => {
        started.push(i);
        await sleep(Math.random() * 3);
      });
    }
    await queue.onIdle();
    expect(started).toEqual([...Array(20).keys()]);
  });

  it('never runs more items at once than its concurrency, as the items themselves see it', async () => {
    const queue = await queueOf({ queue: { concurrency: 3 } });
    let running = 0;
    let peak = 0;
    const items = Array.from({ length: 40 }, () =>
      queue.enqueue(async () => {
        running++;
        peak = Math.max(peak, running);
        await sleep(Math.random() * 5);
        running--;
      }),
    );
    await Promise.all(items.map((i) => i.result));
    expect(peak).toBe(3);
  });

  it('throws QueueFullError once capacity items are pending, and takes work again when they start', async () => {
    const queue = await queueOf({ queue: { concurrency: 1, capacity: 2 } });
    const hold = gate();
    queue.enqueue(() => hold.promise, { name: 'blocker' });
    await sleep(0); // the blocker starts and leaves the pending list
    queue.enqueue(() => 1);
    queue.enqueue(() => 2);
    expect(() => queue.enqueue(() => 3)).toThrow(QueueFullError);
    expect(() => queue.enqueue(() => 3)).toThrow(/Queue "default" is full: 2 items pending/);
    expect(queue.stats()).toMatchObject({ pending: 2, running: 1, capacity: 2 });
    hold.open();
    await queue.onIdle();
    expect(queue.enqueue(() => 4).state).toBe('pending');
  });

  it('enqueueAsync waits for room instead of throwing, in call order', async () => {
    const queue = await queueOf({ queue: { concurrency: 1, capacity: 1 } });
    const hold = gate();
    queue.enqueue(() => hold.promise);
    await sleep(0);
    queue.enqueue(() => 'queued');
    const order: string[] = [];
    const first = queue.enqueueAsync(() => order.push('first'));
    const second = queue.enqueueAsync(() => order.push('second'));
    let admitted = false;
    void first.then(() => (admitted = true));
    await sleep(10);
    expect(admitted).toBe(false);
    hold.open();
    const items = await Promise.all([first, second]);
    await Promise.all(items.map((i) => i.result));
    expect(order).toEqual(['first', 'second']);
  });

  it('enqueueAsync is cancelled by its signal while it waits', async () => {
    const queue = await queueOf({ queue: { concurrency: 1, capacity: 1 } });
    const hold = gate();
    queue.enqueue(() => hold.promise);
    await sleep(0);
    queue.enqueue(() => undefined);
    const controller = new AbortController();
    let ran = false;
    const waiting = queue.enqueueAsync(() => (ran = true), { signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(waiting).rejects.toThrow('caller gave up');
    hold.open();
    await queue.onIdle();
    expect(ran).toBe(false);
    expect(queue.stats()).toMatchObject({ succeeded: 2, pending: 0 });
  });

  it('enqueueAsync rejects at once with an aborted signal', async () => {
    const queue = await queueOf();
    await expect(queue.enqueueAsync(() => 1, { signal: AbortSignal.abort(new Error('no')) })).rejects.toThrow('no');
  });

  it('onIdle resolves when nothing is pending or running, at once when idle', async () => {
    const queue = await queueOf({ queue: { concurrency: 2 } });
    await queue.onIdle();
    let finished = 0;
    for (let i = 0; i < 6; i++) {
      queue.enqueue(async () => {
        await sleep(2);
        finished++;
      });
    }
    await queue.onIdle();
    expect(finished).toBe(6);
    expect(queue.stats()).toMatchObject({ pending: 0, running: 0, succeeded: 6 });
  });

  it('reports progress on the item and as events, and emits the life of an item in order', async () => {
    const queue = await queueOf();
    const events: WorkEvent[] = [];
    const subscription = queue.events$.subscribe((e) => events.push(e));
    const item = queue.enqueue(
      (ctx) => {
        ctx.progress(0.5);
        const { progress } = ctx; // works destructured too
        progress(1);
        return ctx.id;
      },
      { name: 'report' },
    );
    expect(await item.result).toBe(item.id);
    subscription.unsubscribe();
    expect(item.progress).toBe(1);
    expect(events.map((e) => e.type)).toEqual(['enqueued', 'started', 'progress', 'progress', 'succeeded']);
    expect(events[2]).toMatchObject({ type: 'progress', queue: 'default', id: item.id, name: 'report', attempt: 1, value: 0.5 });
  });

  it('gives each attempt its context: id, name, attempt and signal', async () => {
    const queue = await queueOf();
    const item = queue.enqueue((ctx) => ({ id: ctx.id, name: ctx.name, attempt: ctx.attempt, aborted: ctx.signal.aborted }), {
      name: 'ctx',
    });
    expect(await item.result).toEqual({ id: item.id, name: 'ctx', attempt: 1, aborted: false });
  });

  it('keeps named queues apart, each with its own options', async () => {
    current = await startApp({ queue: { concurrency: 1 }, queues: { email: { concurrency: 7, capacity: 50 } } });
    const email = current.app.get<BackgroundQueue>(getQueueToken('email'));
    const main = current.app.get(BackgroundQueue);
    expect(email).not.toBe(main);
    expect(email.name).toBe('email');
    expect(email.stats()).toMatchObject({ concurrency: 7, capacity: 50 });
    expect(main.stats()).toMatchObject({ concurrency: 1, capacity: 10_000 });
    await expect(email.enqueue(() => 'sent').result).resolves.toBe('sent');
    expect(main.stats().succeeded).toBe(0);
  });

  it('keeps stats that add up to what was accepted', async () => {
    const queue = await queueOf({ queue: { concurrency: 2 } });
    const items = [
      queue.enqueue(() => 1),
      queue.enqueue(() => {
        throw new Error('x');
      }),
      queue.enqueue(() => sleep(50)),
      queue.enqueue(() => sleep(50)),
    ];
    items[3].cancel();
    await queue.onIdle();
    const s = queue.stats();
    expect(s).toMatchObject({ pending: 0, running: 0, succeeded: 2, failed: 1, cancelled: 1 });
    expect(s.pending + s.running + s.succeeded + s.failed + s.cancelled).toBe(items.length);
  });
});
