// A thread task: compiled to CommonJS in dist/, loaded as TypeScript by the library's hooks under Jest.
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
