// Extensionless and directory imports, as sources written for a bundler or a test runner have them.
// @ts-expect-error -- NodeNext wants './math.js'; the worker's TypeScript loader resolves it anyway.
import { twice } from './math';
// @ts-expect-error -- NodeNext wants './helpers/index.js'
import { OFFSET } from './helpers';

export default function extensionless(input: { n: number }): number {
  return (twice as (n: number) => number)(input.n) + (OFFSET as number);
}
