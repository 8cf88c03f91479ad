/**
 * Lets worker threads load TypeScript task files, so the same `new URL('./resize.task.js', import.meta.url)` works
 * from compiled output (the .js is there) and from sources under a test runner (only the .ts is there; the caller
 * resolves to it). Node 20 cannot strip types, so these module hooks compile .ts with the project's own `typescript`
 * package, found from the task file. They are registered only in worker threads that meet a .ts file.
 *
 * The hooks are a data: URL, not a file, because they must load before any TypeScript can be, including this
 * library's own runner when it runs from its sources.
 */
const HOOKS_SOURCE = `
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const EXTENSIONLESS = ['.ts', '.js', '/index.ts', '/index.js'];
const OTHER_EXTENSION = /\\.(json|node|wasm|[mc]?[jt]sx?)$/;

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    const relative = specifier.startsWith('./') || specifier.startsWith('../');
    const notFound = error?.code === 'ERR_MODULE_NOT_FOUND' || error?.code === 'ERR_UNSUPPORTED_DIR_IMPORT';
    if (!notFound || !relative || !context.parentURL?.endsWith('.ts')) throw error;
    // NodeNext sources import './helper.js' where only ./helper.ts exists; sources written for a bundler or a test
    // runner import './helper' or './helpers' (a directory), which Node's ESM resolver does not complete.
    const js = specifier.endsWith('.js');
    if (!js && OTHER_EXTENSION.test(specifier)) throw error;
    const base = js ? specifier.slice(0, -3) : specifier;
    const tried = js ? [base + '.ts'] : EXTENSIONLESS.map((suffix) => base + suffix);
    for (const candidate of tried) {
      try {
        return await nextResolve(candidate, context);
      } catch (next) {
        if (next?.code !== 'ERR_MODULE_NOT_FOUND' && next?.code !== 'ERR_UNSUPPORTED_DIR_IMPORT') throw next;
      }
    }
    // Node's own message names only the last absolute path it tried, from deep inside the worker.
    const missing = new Error(
      "Cannot find '" + specifier + "' imported from " + fileURLToPath(context.parentURL) + ' (tried ' + [js ? specifier : undefined, ...tried].filter(Boolean).join(', ') + ')',
    );
    missing.code = 'ERR_MODULE_NOT_FOUND';
    throw missing;
  }
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const file = fileURLToPath(url);
  let ts;
  try {
    ts = createRequire(file)('typescript');
  } catch {
    throw new Error('Task file ' + file + ' is TypeScript: install the typescript package, or point at the compiled .js file');
  }
  if (typeof ts.transpileModule !== 'function') {
    throw new Error('Task file ' + file + ' is TypeScript, but the typescript package found (' + ts.version + ') has no transpileModule (TypeScript 7 has no JavaScript API): install typescript 5 or 6 as a devDependency, or point at the compiled .js file');
  }
  const source = await readFile(file, 'utf8');
  const output = ts.transpileModule(source, {
    fileName: file,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      experimentalDecorators: true,
      inlineSourceMap: true,
      inlineSources: true,
    },
  });
  return { format: 'module', source: output.outputText, shortCircuit: true };
}
`;

const READY = 'nestjs-background-work.typescript-hooks';

export const TYPESCRIPT_HOOKS_URL = `data:text/javascript,${encodeURIComponent(HOOKS_SOURCE)}`;

/** For `--import`: registers the hooks before the worker loads anything. */
export const TYPESCRIPT_REGISTER_URL = `data:text/javascript,${encodeURIComponent(
  `import { register } from 'node:module';
register(${JSON.stringify(TYPESCRIPT_HOOKS_URL)});
globalThis[Symbol.for(${JSON.stringify(READY)})] = true;`,
)}`;

/** Whether this thread already has the hooks (registered by `--import` at start). */
export function typescriptHooksRegistered(): boolean {
  return (globalThis as Record<symbol, unknown>)[Symbol.for(READY)] === true;
}

export function markTypescriptHooksRegistered(): void {
  (globalThis as Record<symbol, unknown>)[Symbol.for(READY)] = true;
}
