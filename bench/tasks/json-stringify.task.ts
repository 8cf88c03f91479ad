/**
 * The CPU-bound task of poolifier's "versus external pools" benchmark: `size` JSON.stringify calls on a small
 * object (5,000 there and here), so that the figure can be compared with theirs.
 */
export default function jsonStringify(size: number): { ok: number } {
  for (let i = 0; i < size; i++) {
    const o = { a: i };
    JSON.stringify(o);
  }
  return { ok: 1 };
}
