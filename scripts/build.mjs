#!/usr/bin/env node
/**
 * `npm run build`: the ESM build in dist/ and the CommonJS build in dist/cjs/, each with its own declarations.
 *
 * The sources are ESM (`"type": "module"`, NodeNext). TypeScript decides a file's output format from the nearest
 * package.json, so the CommonJS build compiles a copy of lib/ in .build-cjs/ that has a `{"type":"commonjs"}`
 * package.json beside it: the same NodeNext rules then emit `require`, keep `import()` (the thread runner loads ESM
 * and CommonJS task files with it) and write CommonJS declarations. Files that must differ between the builds (only
 * those that use `import.meta`) have their CommonJS twin in scripts/cjs-overrides/, at the same path.
 * dist/cjs/package.json says `{"type":"commonjs"}` to Node and to TypeScript alike. The dashboard's browser assets
 * (lib/dashboard/assets/) are copied into both builds.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const staging = join(root, '.build-cjs');
const overrides = join(root, 'scripts', 'cjs-overrides');
const cjsOut = join(root, 'dist', 'cjs');

function run(project) {
  execFileSync(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'inherit' });
}

rmSync(join(root, 'dist'), { recursive: true, force: true });
run('tsconfig.json');

rmSync(staging, { recursive: true, force: true });
cpSync(join(root, 'lib'), join(staging, 'lib'), { recursive: true });
cpSync(overrides, join(staging, 'lib'), { recursive: true });
writeFileSync(join(staging, 'package.json'), '{ "type": "commonjs" }\n');
run('tsconfig.cjs.json');
writeFileSync(join(cjsOut, 'package.json'), '{ "type": "commonjs" }\n');

// Source maps name the staging copy; point them at lib/ as the ESM build's do.
for (const file of readdirSync(cjsOut, { recursive: true, encoding: 'utf8' })) {
  if (!file.endsWith('.map')) continue;
  const path = join(cjsOut, file);
  const map = JSON.parse(readFileSync(path, 'utf8'));
  map.sources = map.sources.map((source) => source.replace('/.build-cjs/lib/', '/lib/'));
  writeFileSync(path, JSON.stringify(map));
}
rmSync(staging, { recursive: true, force: true });

// The dashboard's script and style sheet are files the page loads, not modules: each build has its copy, beside
// the module that serves them (lib/dashboard/asset-location.ts).
const assets = join(root, 'lib', 'dashboard', 'assets');
for (const out of [join(root, 'dist'), cjsOut]) cpSync(assets, join(out, 'dashboard', 'assets'), { recursive: true });

for (const entry of [
  join(root, 'dist', 'index.js'),
  join(cjsOut, 'index.js'),
  join(cjsOut, 'index.d.ts'),
  join(root, 'dist', 'dashboard', 'assets', 'dashboard.js'),
  join(cjsOut, 'dashboard', 'assets', 'dashboard.js'),
]) {
  if (!existsSync(entry)) throw new Error(`build: ${entry} was not written`);
}
