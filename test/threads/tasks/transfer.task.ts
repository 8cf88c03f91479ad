/** Sums the bytes of a buffer that was moved, not copied, to the thread. */
export default function sum(input: { buffer: ArrayBuffer }): number {
  let total = 0;
  for (const byte of new Uint8Array(input.buffer)) total += byte;
  return total;
}
