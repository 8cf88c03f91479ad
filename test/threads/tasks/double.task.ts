import { twice } from './math.js';

/** Default export: takes the input, returns the output. */
export default function double(input: { n: number }): number {
  return twice(input.n);
}

/** A named export, run with `{ name: 'square' }`; async on purpose. */
export async function square(input: { n: number }): Promise<number> {
  return input.n * input.n;
}
