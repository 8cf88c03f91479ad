import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundQueue } from 'nestjs-background-work';
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

describe('pause() and resume()', () => {
  it('holds new starts while running items go on, still accepts work, and starts it all on resume', async () => {
    const queue = await queueOf({ queue: { concurrency: 2, capacity: 3 } });
    const hold = gate();
    const running = queue.enqueue(() => hold.promise.then(() => 'finished while paused'));
    await sleep(0);
    queue.pause();
    expect(queue.isPaused).toBe(true);
    const started: number[] = [];
    const items = [1, 2, 3].map((n) => queue.enqueue(() => void started.push(n)));
    expect(() => queue.enqueue(() => 4)).toThrow(/is full/); // capacity rules unchanged
    hold.open();
    await expect(running.result).resolves.toBe('finished while paused');
    await sleep(5);
    expect(started).toEqual([]);
    expect(queue.stats()).toMatchObject({ pending: 3, running: 0 });
    queue.pause(); // twice is harmless
    queue.resume();
    expect(queue.isPaused).toBe(false);
    await Promise.all(items.map((i) => i.result));
    expect(started).toEqual([1, 2, 3]);
    expect(current!.logger.lines.filter((l) => l.level === 'debug').map((l) => l.message)).toEqual(['Queue "default" paused', 'Queue "default" resumed']);
  });

  it('a paused queue still drains its pending items at shutdown', async () => {
    const queue = await queueOf({ queue: { concurrency: 1 } });
    queue.pause();
    const ran: string[] = [];
    const items = ['a', 'b', 'c'].map((name) => queue.enqueue(async () => void ran.push(name), { name }));
    await sleep(5);
    expect(ran).toEqual([]);
    await current!.app.close();
    current = undefined;
    expect(ran).toEqual(['a', 'b', 'c']);
    expect(items.map((i) => i.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  });
});

describe('setConcurrency()', () => {
  it('raised, starts more at once; lowered, lets running items finish and starts nothing until below it', async () => {
    const queue = await queueOf({ queue: { concurrency: 1 } });
    let running = 0;
    let peak = 0;
    const gates = Array.from({ length: 8 }, () => gate());
    const items = gates.map((g) =>
      queue.enqueue(async () => {
        running++;
        peak = Math.max(peak, running);
        await g.promise;
        running--;
      }),
    );
    await sleep(0);
    expect(running).toBe(1);
    queue.setConcurrency(4);
    expect(queue.stats().concurrency).toBe(4);
    await sleep(0);
    expect(running).toBe(4);

    queue.setConcurrency(2);
    expect(queue.stats().concurrency).toBe(2);
    gates[0]!.open();
    await items[0]!.result;
    await sleep(0);
    expect(running).toBe(3); // 4 were running: one ended, none started
    gates[1]!.open();
    gates[2]!.open();
    await Promise.all([items[1]!.result, items[2]!.result]);
    await sleep(0);
    expect(running).toBe(2); // below 2 only after a third ended: then one more started
    expect(peak).toBe(4);
    for (const g of gates) g.open();
    await Promise.all(items.map((i) => i.result));
    queue.setConcurrency(Infinity);
    expect(queue.stats().concurrency).toBe(Infinity);
  });

  it.each([0, -1, 1.5, Number.NaN, '2'])('rejects %s naming concurrency', async (value) => {
    const queue = await queueOf();
    expect(() => queue.setConcurrency(value as never)).toThrow(/default\.setConcurrency\(concurrency\) must be/);
    expect(queue.stats().concurrency).toBe(4);
  });
});
