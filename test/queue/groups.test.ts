import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundQueue, CancelledError, TimeoutError } from 'nestjs-background-work';
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

describe('group', () => {
  it('runs the items of a group one at a time in enqueue order, retries included, while other groups go on', async () => {
    const queue = await queueOf({ queue: { concurrency: 8 } });
    const log: string[] = [];
    const running = new Map<string, number>();
    let overlapped = false;
    let groupsAtOnce = 0;
    const items = [];
    for (let i = 0; i < 8; i++) {
      for (const group of ['alice', 'bob', 'carol']) {
        items.push(
          queue.enqueue(
            async (ctx) => {
              if ((running.get(group) ?? 0) > 0) overlapped = true;
              running.set(group, (running.get(group) ?? 0) + 1);
              groupsAtOnce = Math.max(groupsAtOnce, [...running.values()].filter((n) => n > 0).length);
              await sleep(Math.random() * 4);
              running.set(group, running.get(group)! - 1);
              // Every third item fails its first attempt: its retry must come before the group's next item.
              if (i % 3 === 0 && ctx.attempt === 1) throw new Error(`${group} ${i} fails once`);
              log.push(`${group} ${i}`);
            },
            { group, retry: { attempts: 2, delay: 3 } },
          ),
        );
      }
    }
    await Promise.all(items.map((item) => item.result));
    expect(overlapped).toBe(false);
    expect(groupsAtOnce).toBeGreaterThan(1);
    for (const group of ['alice', 'bob', 'carol']) {
      expect(log.filter((line) => line.startsWith(group))).toEqual([...Array(8).keys()].map((i) => `${group} ${i}`));
    }
  });

  it('items without a group are not held by groups; a group head competes by priority', async () => {
    const queue = await queueOf({ queue: { concurrency: 1 } });
    const order: string[] = [];
    const hold = gate();
    queue.enqueue(() => hold.promise); // keeps the one slot while the rest is enqueued
    await sleep(0);
    const run = (name: string) => () => void order.push(name);
    queue.enqueue(run('g1'), { group: 'g' });
    queue.enqueue(run('g2'), { group: 'g', priority: 10 }); // waits for g1 all the same
    queue.enqueue(run('free'));
    queue.enqueue(run('urgent'), { priority: 5 });
    hold.open();
    await queue.onIdle();
    // g1 and the others compete by priority; g2 joins the pending order when g1 ends, and with priority 10 runs next.
    expect(order).toEqual(['urgent', 'g1', 'g2', 'free']);
  });

  it('cancelling a pending or running item, or a timeout, lets the group go on', async () => {
    const queue = await queueOf({ queue: { concurrency: 4 } });
    const order: string[] = [];
    const hold = gate();
    const first = queue.enqueue(() => hold.promise, { group: 'g', name: 'first' });
    const second = queue.enqueue(() => void order.push('second'), { group: 'g' });
    const third = queue.enqueue(
      (ctx) =>
        new Promise((_, reject) => {
          order.push('third');
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
        }),
      { group: 'g', timeout: 20 },
    );
    const fourth = queue.enqueue(() => void order.push('fourth'), { group: 'g' });
    await sleep(5);
    expect(first.state).toBe('running');
    second.cancel(); // pending behind first
    first.cancel(); // running: the group moves on to third
    await expect(first.result).rejects.toBeInstanceOf(CancelledError);
    await expect(third.result).rejects.toBeInstanceOf(TimeoutError);
    await fourth.result;
    expect(order).toEqual(['third', 'fourth']);
    hold.open();
  });

  it('a shutdown deadline cancels the items still waiting in a group', async () => {
    current = await startApp({ shutdownTimeout: 100 });
    const queue = current.app.get(BackgroundQueue);
    const hold = gate();
    const first = queue.enqueue((ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', resolve)), { group: 'g', name: 'first' });
    const rest = [1, 2].map((n) => queue.enqueue(() => hold.promise, { group: 'g', name: `next ${n}` }));
    await current.app.close();
    expect([first, ...rest].map((i) => i.state)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    const warnings = current.logger.messages('warn').join('\n');
    expect(warnings).toContain(`2 pending items cancelled at the shutdown deadline: #${rest[0]!.id} "next 1", #${rest[1]!.id} "next 2"`);
    current = undefined;
  });
});
