import * as fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKPRESSURE, MIXED, programArb, type Profile, type Program } from './arbitraries.js';
import { runProgram } from './harness.js';

/**
 * Random programs of commands run against a BackgroundQueue under fake timers and checked, after every command and
 * at the end, against the model in queue-model.ts (see harness.ts for what is compared).
 *
 * 1,000 programs in all by default; PROPERTY_RUNS raises that. The seed is fixed (PROPERTY_SEED changes it), and a
 * failure prints it with the path of the shrunk program: PROPERTY_SEED=<seed> PROPERTY_PATH=<path>
 * npx vitest run test/property -t '<test name>' runs that program alone.
 */
const runs = Math.max(1_000, Number(process.env.PROPERTY_RUNS ?? 0));
const seed = Number(process.env.PROPERTY_SEED ?? 20_251_123);
const path = process.env.PROPERTY_PATH;

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
beforeAll(() => void process.on('unhandledRejection', onUnhandled));
afterAll(() => void process.off('unhandledRejection', onUnhandled));

function property(profile: Profile, numRuns: number): Promise<fc.RunDetails<[Program]>> {
  return fc.check(
    fc.asyncProperty(programArb(profile), async (program: Program) => {
      await runProgram(program);
      // Rejections are reported after a macrotask turn: give them one, on real timers again.
      await new Promise((resolve) => setImmediate(resolve));
      const found = unhandled.splice(0);
      if (found.length > 0) throw new Error(`unhandled rejections: ${found.map(String).join(', ')}`);
    }),
    { numRuns, seed, path },
  );
}

/** fast-check's report (seed, path, shrunk program) and the violation itself, or 'passed'. */
function outcome(details: fc.RunDetails<[Program]>): string {
  if (!details.failed) return 'passed';
  const error = details.errorInstance;
  return `${fc.defaultReportMessage(details)}\n\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
}

describe('BackgroundQueue against a model, in random programs', () => {
  it('of enqueue, cancel, caller signals, timeouts, retries, advancing time, close and drain', { timeout: 120_000 }, async () => {
    const details = await property(MIXED, Math.ceil(runs * 0.7));
    expect(outcome(details)).toBe('passed');
  });

  it('of enqueueAsync on a small queue that is often full, with signals shared by several items', { timeout: 120_000 }, async () => {
    const details = await property(BACKPRESSURE, Math.ceil(runs * 0.3));
    expect(outcome(details)).toBe('passed');
  });
});
