#!/usr/bin/env node
/**
 * `npm run test:consumers`: installs the packed tarball into each fixture app under test/consumers/, as a new user
 * would, and in each runs its own typecheck and test commands, then a process check: build, start, one request that
 * enqueues work (which runs a task on a worker thread), SIGTERM while it runs, and expect the work to finish, the
 * library's drain line "Background work stopped", and exit code 0. Prints app × typecheck / test / run / drain and
 * exits non-zero if any cell fails.
 *
 * Each fixture is copied to a fresh temporary folder (its committed package-lock.json pins the app's own
 * dependencies); installs share the machine's npm cache. `--only name,name` runs some; `--keep` keeps the folders.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixturesDir = join(root, 'test', 'consumers');
const args = process.argv.slice(2);
const keep = args.includes('--keep');
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? args[onlyIndex + 1].split(',') : undefined;

const STEP_TIMEOUT = 5 * 60_000;
const RUN_TIMEOUT = 60_000;
const DRAIN_LINE = 'Background work stopped';

const work = mkdtempSync(join(tmpdir(), 'nbw-consumers-'));
const began = performance.now();

function seconds(since) {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

/** Runs a command to the end; its output goes to the log, and the last of it to the console if it fails. */
function step(label, command, argv, cwd, env = {}) {
  const started = performance.now();
  process.stdout.write(`  ${label}: ${command} ${argv.join(' ')} … `);
  return new Promise((resolve) => {
    const child = spawn(command, argv, { cwd, env: { ...process.env, CI: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), STEP_TIMEOUT);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ok = code === 0;
      process.stdout.write(`${ok ? 'ok' : `FAILED (${signal ?? `exit ${code}`})`} in ${seconds(started)}\n`);
      if (!ok || process.env.CONSUMERS_VERBOSE) process.stdout.write(indent(output.slice(-6000)));
      resolve({ ok, output });
    });
  });
}

function indent(text) {
  return text
    .split('\n')
    .map((line) => `    | ${line}`)
    .join('\n')
    .concat('\n');
}

function mark(ok) {
  return ok ? 'ok' : 'FAIL';
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts the app, waits for its `LISTENING` line, POSTs /work (one item that runs a thread task), sends SIGTERM as
 * soon as the answer comes, and waits for the exit. `run` is the start and the request; `drain` is the work done
 * before the drain line and exit code 0.
 */
async function processCheck(cwd, start) {
  const port = await freePort();
  const started = performance.now();
  process.stdout.write(`  process: ${start.join(' ')} (PORT=${port}) … `);
  const child = spawn(start[0], start.slice(1), {
    cwd,
    env: { ...process.env, PORT: String(port), NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let listening;
  const listeningPromise = new Promise((resolve) => (listening = resolve));
  const onData = (chunk) => {
    output += chunk;
    if (output.includes('LISTENING')) listening(true);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  exited.then(() => listening(false));
  const killer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT);

  let run = false;
  let why = '';
  if (await listeningPromise) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/work`, { method: 'POST' });
      const body = await response.text();
      run = response.status === 202 && body.includes('"id"');
      if (!run) why = `POST /work answered ${response.status} ${body}`;
    } catch (error) {
      why = `POST /work failed: ${error.message}`;
    }
  } else {
    why = 'the app exited before its LISTENING line';
  }
  // SIGTERM to the process we started (for `nest start --no-shell`, the CLI, which must forward it).
  child.kill('SIGTERM');
  const { code, signal } = await exited;
  clearTimeout(killer);

  const doneAt = output.indexOf('WORK DONE');
  const drainAt = output.indexOf(DRAIN_LINE);
  const drain = run && code === 0 && doneAt >= 0 && drainAt > doneAt;
  if (run && !drain) {
    why =
      `exit ${signal ?? code}; ` +
      (doneAt < 0 ? 'the enqueued work never printed WORK DONE; ' : '') +
      (drainAt < 0 ? `no "${DRAIN_LINE}" line` : drainAt < doneAt ? 'the drain line came before the work finished' : '');
  }
  const ok = run && drain;
  process.stdout.write(`${ok ? 'ok' : `FAILED: ${why}`} in ${seconds(started)}\n`);
  if (!ok || process.env.CONSUMERS_VERBOSE) process.stdout.write(indent(output.slice(-6000)));
  return { run, drain };
}

async function main() {
  const fixtures = readdirSync(fixturesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(fixturesDir, entry.name, 'package.json')))
    .map((entry) => entry.name)
    .filter((name) => only === undefined || only.includes(name))
    .toSorted();
  if (fixtures.length === 0) throw new Error(`no consumer fixtures found in ${fixturesDir}${only ? ` matching ${only}` : ''}`);

  console.log(`Packing the library (npm pack builds it) into ${work}`);
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
  const tarball = join(work, packed[0].filename);
  console.log(`Packed ${packed[0].filename}: ${packed[0].entryCount} files, ${(packed[0].size / 1024).toFixed(0)} KB, in ${seconds(began)}`);

  const results = [];
  for (const name of fixtures) {
    const fixtureStarted = performance.now();
    console.log(`\n${name}`);
    const dir = join(work, name);
    cpSync(join(fixturesDir, name), dir, {
      recursive: true,
      filter: (source) => !/[\\/](node_modules|dist|coverage)$/.test(source) && !source.endsWith('.tsbuildinfo'),
    });
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const row = { name, typecheck: false, test: false, run: false, drain: false, time: '' };
    results.push(row);

    const install = await step('install', 'npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball], dir);
    if (install.ok) {
      const version = JSON.parse(readFileSync(join(dir, 'node_modules', '@nestjs', 'core', 'package.json'), 'utf8')).version;
      console.log(`  loads @nestjs/core ${version}`);
      row.typecheck = (await step('typecheck', 'npm', ['run', 'typecheck'], dir)).ok;
      row.test = (await step('test', 'npm', ['test'], dir)).ok;
      const build = await step('build', 'npm', ['run', 'build'], dir);
      if (build.ok) Object.assign(row, await processCheck(dir, manifest.consumerCheck?.start ?? ['node', 'dist/main.js']));
    }
    row.time = seconds(fixtureStarted);
  }

  const width = Math.max(...results.map((r) => r.name.length), 3);
  const lines = [
    `${'app'.padEnd(width)}  typecheck  test  run   drain  time`,
    ...results.map((r) => `${r.name.padEnd(width)}  ${mark(r.typecheck).padEnd(9)}  ${mark(r.test).padEnd(4)}  ${mark(r.run).padEnd(4)}  ${mark(r.drain).padEnd(5)}  ${r.time}`),
  ];
  console.log(`\nConsumer apps (${seconds(began)} in all):\n${lines.join('\n')}`);
  const cells = results.flatMap((r) => [r.typecheck, r.test, r.run, r.drain]);
  const failed = cells.filter((ok) => !ok).length;
  console.log(`consumers: ${cells.length - failed} passed, ${failed} failed`);
  return failed === 0;
}

let ok = false;
try {
  ok = await main();
} catch (error) {
  console.error(error);
} finally {
  if (keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
process.exitCode = ok ? 0 : 1;
