import type { TaskContext } from 'nestjs-background-work';

/** Makes `count` chunks of bytes, reporting progress after each, and moves the result back instead of copying it. */
export default function chunks(input: { count: number; size: number }, ctx: TaskContext): Uint8Array {
  const bytes = Buffer.alloc(input.count * input.size);
  for (let i = 0; i < input.count; i++) {
    bytes.fill(i + 1, i * input.size, (i + 1) * input.size);
    ctx.progress((i + 1) / input.count);
  }
  return ctx.move(bytes);
}

/** Reports a bad progress value: the task fails with a TypeError. */
export function badProgress(_input: unknown, ctx: TaskContext): void {
  ctx.progress(Number.NaN);
}
