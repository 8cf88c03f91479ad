/** A helper the task imports as './math.js', as NodeNext sources do. */
export function twice(n: number): number {
  return n * 2;
}
