import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerThreads } from 'nestjs-background-work';
import { startApp, type TestApp } from '../support/create-app.js';

let current: TestApp | undefined;
afterEach(async () => {
  await current?.app.close();
  current = undefined;
});

describe('TypeScript task files under a test runner', () => {
  it("resolves extensionless and directory imports the way the test runner and bundlers do ('./math', './helpers')", async () => {
    current = await startApp({ threads: { maxThreads: 1, minThreads: 0 } });
    const threads = current.app.get(WorkerThreads);
    await expect(threads.run(new URL('./tasks/extensionless.task.js', import.meta.url), { n: 21 })).resolves.toBe(142);
  });

  it('fails a task whose import is nowhere with an error naming the import, the file and the places tried', async () => {
    current = await startApp({ threads: { maxThreads: 1, minThreads: 0 } });
    const threads = current.app.get(WorkerThreads);
    const file = fileURLToPath(new URL('./tasks/missing-import.task.ts', import.meta.url));
    const error = await threads.run(new URL('./tasks/missing-import.task.js', import.meta.url), {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'ERR_MODULE_NOT_FOUND' });
    expect((error as Error).message).toContain(`Cannot find './nowhere' imported from ${file}`);
    expect((error as Error).message).toContain('(tried ./nowhere.ts, ./nowhere.js, ./nowhere/index.ts, ./nowhere/index.js)');
    // the pool goes on
    await expect(threads.run(new URL('./tasks/double.task.js', import.meta.url), { n: 2 })).resolves.toBe(4);
  });
});
