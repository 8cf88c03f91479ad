import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Builds the library (ESM and CommonJS, as `npm run build` does) and compiles the process-level fixture apps once per
 * run: they run in real child processes.
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
  const fixtures = readdirSync(new URL('../fixtures', import.meta.url)).filter((f) => f.endsWith('.ts'));
  if (fixtures.length > 0) execFileSync(process.execPath, [tsc, '-p', 'test/fixtures/tsconfig.json'], { cwd: root, stdio: 'inherit' });
}
