/**
 * Keeps a CPU busy for `ms` milliseconds, like an image resize or a PDF render would. The HTTP benchmark runs it on
 * the main thread (inline) or on a worker thread. A spin on the clock, not a fixed amount of work, so that a job
 * costs the same on a faster or slower machine.
 */
export default function burn(ms: number): number {
  const end = performance.now() + ms;
  let spins = 0;
  while (performance.now() < end) spins++;
  return spins;
}
