/** The tiny task of threads-serial and threads-saturated: the cost measured is the pool's round trip, not the work. */
export default function echo(input: number): number {
  return input;
}
