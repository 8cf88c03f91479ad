/** Keeps a CPU busy for `ms` milliseconds, as an image resize or a PDF render would. */
export default function spin(input: { ms: number }): number {
  const end = Date.now() + input.ms;
  let turns = 0;
  while (Date.now() < end) turns++;
  return turns;
}

/** Never returns: only terminating its thread stops it. */
export function forever(): never {
  for (;;) {
    // busy
  }
}
