import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { serializePayload } from '../../lib/jobs/job-payload.js';

/**
 * serializePayload walks a payload twice when it has to: a quick walk that only says yes or no, then, on no, the
 * careful walk that names the path. These properties check that the quick walk never says yes to what the
 * careful walk refuses, and never refuses plain JSON.
 */
const RUNS = Number(process.env.PROPERTY_RUNS ?? 500);

class Point {
  constructor(readonly x = 1) {}
}

/** Values JSON would change, and how the error goes on after the path of each. */
const BAD: [string, () => unknown, string][] = [
  ['undefined', () => undefined, ': undefined; JSON drops it'],
  ['NaN', () => Number.NaN, ': NaN; JSON turns it into null'],
  ['Infinity', () => -Infinity, ': -Infinity; JSON turns it into null'],
  ['a function', () => () => 1, ': a function'],
  ['a symbol', () => Symbol('s'), ': a symbol'],
  ['a BigInt', () => 10n, ': a BigInt'],
  ['a Date', () => new Date(0), ': a Date; pass toISOString()'],
  ['a Map', () => new Map(), ': a Map'],
  ['a Set', () => new Set(), ': a Set'],
  ['a class instance', () => new Point(), ': an instance of Point; pass a plain object'],
  ['an object with toJSON', () => ({ toJSON: () => 1 }), ': an object with toJSON()'],
  ['an array with a hole', () => [1, , 3], '[1]: a hole in an array'], // oxlint-disable-line no-sparse-arrays -- the point
];

/** Puts `bad` at a path into `value` (a plain object or array), returning the path as the error names it. */
function inject(value: unknown, steps: number[], bad: unknown): { payload: unknown; path: string } {
  let path = 'payload';
  if (value === null || typeof value !== 'object') return { payload: { slot: bad }, path: 'payload.slot' };
  const root = value;
  let node = value as Record<string, unknown> | unknown[];
  for (const step of steps) {
    const keys = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
    const containers = keys.filter((k) => (node as any)[k] !== null && typeof (node as any)[k] === 'object');
    if (containers.length === 0) break;
    const key = containers[step % containers.length];
    path += typeof key === 'number' ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
    node = (node as any)[key];
  }
  if (Array.isArray(node)) {
    node.push(bad);
    path += `[${node.length - 1}]`;
  } else {
    node.bad_slot = bad;
    path += '.bad_slot';
  }
  return { payload: root, path };
}

describe('serializePayload', () => {
  it('takes every plain JSON value and gives back exactly JSON.stringify of it', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(serializePayload('payload', value)).toBe(JSON.stringify(value));
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses a value JSON would change wherever it is, naming its path', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.array(fc.jsonValue()), fc.dictionary(fc.string(), fc.jsonValue())),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.constantFrom(...BAD),
        (value, steps, [, make, after]) => {
          const { payload, path } = inject(structuredClone(value), steps, make());
          let thrown: unknown;
          try {
            serializePayload('payload', payload);
          } catch (error) {
            thrown = error;
          }
          expect(thrown).toBeInstanceOf(TypeError);
          expect((thrown as Error).message.startsWith(`${path}${after}`)).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('takes a deep payload past the quick walk\'s depth, and refuses a cycle at any depth', () => {
    let deep: Record<string, unknown> = { leaf: 'x' };
    for (let i = 0; i < 200; i++) deep = { next: deep };
    expect(serializePayload('payload', deep)).toBe(JSON.stringify(deep));

    const cyclic: Record<string, unknown> = { a: { b: {} } };
    (cyclic.a as { b: Record<string, unknown> }).b.back = cyclic;
    expect(() => serializePayload('payload', cyclic)).toThrow('payload.a.b.back: a cycle');
    let chain: Record<string, unknown> = {};
    const top = chain;
    for (let i = 0; i < 100; i++) chain = chain.next = {};
    chain.loop = top;
    expect(() => serializePayload('payload', top)).toThrow(/a cycle/);
  });

  it('refuses an enumerable symbol key that JSON would drop, and takes a non-enumerable one', () => {
    const key = Symbol('k');
    expect(() => serializePayload('payload', { a: { [key]: 1 } })).toThrow('payload.a[Symbol(k)]: a symbol key');
    const hidden = { a: 1 };
    Object.defineProperty(hidden, key, { value: 1, enumerable: false });
    expect(serializePayload('payload', hidden)).toBe('{"a":1}');
  });
});
