// A thread task, bundled as its own webpack entry (webpack.config.js): dist/hash.task.js.
import { createHash } from 'node:crypto';

export interface HashInput {
  text: string;
  rounds: number;
}

export default function hash({ text, rounds }: HashInput): string {
  let digest = text;
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).digest('hex');
  return digest;
}
