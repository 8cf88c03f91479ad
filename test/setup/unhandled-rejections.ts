import 'reflect-metadata';
import { afterEach, expect } from 'vitest';

/**
 * Fails the test during which a promise rejection went unhandled (or an exception went uncaught), instead of letting
 * Vitest report it once for the whole run. The library promises that fire-and-forget work never causes one.
 */
const problems: unknown[] = [];
process.on('unhandledRejection', (reason) => problems.push(reason));

afterEach(async () => {
  // Rejections are reported after a macrotask turn: give them one before checking.
  await new Promise((resolve) => setImmediate(resolve));
  const found = problems.splice(0);
  expect(found, 'unhandled rejections during this test').toEqual([]);
});
