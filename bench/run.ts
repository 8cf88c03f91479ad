/**
 * The benchmark runner: `npm run bench -- [--quick] [--json PATH] [--only ID[,ID]] [--runs N]`.
 *
 * Every (scenario, library) run is a fresh child process, so that no library inherits another's JIT state, heap or
 * threads, and so that a leaked handle cannot slow the next run. Each child warms up before it measures; the runner
 * repeats every pair at least 5 times (3 in --quick) and reports the median, with min and max to show the spread.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RESULT_MARKER, SKIP_MARKER, median } from './measure.js';
import { OURS } from './queues.js';
import { SCENARIOS, type Scenario } from './scenarios.js';

interface Summary {
  scenario: Scenario;
  /** Per library: the figure of every successful run. */
  samples: Map<string, number[]>;
  failures: number;
  /** Per library that said it cannot run here (a driver not installed, a Node too old): why. */
  skipped: Map<string, string>;
}

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    only: { type: 'string' },
    runs: { type: 'string' },
  },
});

const quick = args.quick ?? false;
const runs = args.runs === undefined ? (quick ? 3 : 5) : Number(args.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${args.runs}`);

let selected = SCENARIOS;
if (args.only !== undefined) {
  const ids = args.only.split(',').map((id) => id.trim());
  const unknown = ids.filter((id) => !SCENARIOS.some((s) => s.id === id));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.id).join(', ')}`);
  selected = SCENARIOS.filter((s) => ids.includes(s.id));
}

interface ChildResult {
  /** Undefined when the child skipped (then `skipped` says why). */
  value?: number;
  skipped?: string;
  /** Anything else the scenario reported (p50, sample counts...): shown in the progress log, not in the table. */
  detail: Record<string, unknown>;
}

/** Runs one child and returns its figure; rejects with its output when it fails or outlives the scenario's timeout. */
function runChild(scenario: Scenario, lib: string): Promise<ChildResult> {
  const file = fileURLToPath(new URL(scenario.file, import.meta.url));
  const params = { ...scenario.full, ...(quick ? scenario.quick : {}) };
  const child = spawn(process.execPath, [...scenario.flags, file, lib, JSON.stringify(params)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), scenario.timeout);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARKER));
      const skipLine = stdout.split('\n').find((l) => l.startsWith(SKIP_MARKER));
      if (code === 0 && skipLine !== undefined) {
        resolve({ skipped: (JSON.parse(skipLine.slice(SKIP_MARKER.length)) as { reason: string }).reason, detail: {} });
      } else if (code === 0 && line !== undefined) {
        const { value, ...detail } = JSON.parse(line.slice(RESULT_MARKER.length)) as { value: number };
        resolve({ value, detail });
      } else {
        const why = signal === 'SIGKILL' ? `killed after ${scenario.timeout} ms` : `exit ${code ?? signal}`;
        reject(new Error(`${scenario.id} / ${lib}: ${why}\n${stderr.trim().split('\n').slice(-15).join('\n')}`));
      }
    });
  });
}

/**
 * Runs every library of `scenario` `runs` times. Libraries alternate within each round and the round's first library
 * rotates, so that each library runs as often early as late: a machine that slows down or speeds up during the run
 * (other jobs, thermal limits, a cache warming) then spreads its drift over all libraries instead of one.
 */
async function runScenario(scenario: Scenario): Promise<Summary> {
  const samples = new Map<string, number[]>(scenario.libs.map((lib) => [lib, []]));
  const skipped = new Map<string, string>();
  let failures = 0;
  for (let round = 0; round < runs; round++) {
    const order = scenario.libs.map((_, i) => scenario.libs[(i + round) % scenario.libs.length]);
    for (const lib of order) {
      // A library that cannot run here says so once; asking again each round would only say it again.
      if (skipped.has(lib)) continue;
      try {
        const { value, skipped: reason, detail } = await runChild(scenario, lib);
        if (reason !== undefined || value === undefined) {
          skipped.set(lib, reason ?? 'no reason given');
          process.stderr.write(`  ${scenario.id}  ${lib}: skipped (${reason})\n`);
          continue;
        }
        samples.get(lib)!.push(value);
        const extra = Object.entries(detail).map(([key, v]) => `${key} ${typeof v === 'number' ? format(v) : String(v)}`);
        const note = extra.length > 0 ? `  (${extra.join(', ')})` : '';
        process.stderr.write(`  ${scenario.id}  run ${round + 1}/${runs}  ${lib}: ${format(value)} ${scenario.unit}${note}\n`);
      } catch (error) {
        failures++;
        process.stderr.write(`  FAILED ${(error as Error).message}\n`);
      }
    }
  }
  return { scenario, samples, failures, skipped };
}

/** About four significant digits, without exponents. */
function format(value: number | undefined): string {
  if (value === undefined) return '-';
  const abs = Math.abs(value);
  if (abs >= 1000 || Number.isInteger(value)) return Math.round(value).toString();
  if (abs >= 100) return value.toFixed(1);
  if (abs >= 10) return value.toFixed(2);
  return value.toFixed(3);
}

const isOurs = (lib: string): boolean => lib === OURS || lib.startsWith(`${OURS}/`);

/**
 * Which of our runs an anchor's ratio is taken against: an anchor named `<anchor>/<variant>` (`sqlite-raw/libsql`)
 * against `nestjs-background-work/<variant>` when the scenario has it, everything else against plain `nestjs-background-work`.
 */
function oursFor(lib: string, samples: ReadonlyMap<string, unknown>): string {
  const slash = lib.indexOf('/');
  const variant = slash < 0 ? undefined : `${OURS}/${lib.slice(slash + 1)}`;
  return variant !== undefined && samples.has(variant) ? variant : OURS;
}

function table(summaries: readonly Summary[]): string {
  const header = ['scenario', 'unit', 'library', 'median', 'min', 'max', 'runs', 'ours/lib'];
  const rows: string[][] = [];
  for (const { scenario, samples, skipped } of summaries) {
    const medianOf = (lib: string): number | undefined => {
      const values = samples.get(lib);
      return values !== undefined && values.length > 0 ? median(values) : undefined;
    };
    for (const [lib, values] of samples) {
      if (skipped.has(lib)) {
        rows.push([scenario.id, scenario.unit, lib, 'skipped', '', '', '0', '']);
        continue;
      }
      const m = values.length > 0 ? median(values) : undefined;
      const oursMedian = medianOf(oursFor(lib, samples));
      rows.push([
        scenario.id,
        `${scenario.unit} ${scenario.lowerIsBetter ? '(lower is better)' : '(higher is better)'}`,
        lib,
        format(m),
        format(values.length > 0 ? Math.min(...values) : undefined),
        format(values.length > 0 ? Math.max(...values) : undefined),
        String(values.length),
        isOurs(lib) || oursMedian === undefined || m === undefined ? '' : (oursMedian / m).toFixed(2),
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const numeric = new Set([3, 4, 5, 6, 7]);
  const line = (cells: string[]): string =>
    cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/**
 * A fingerprint of the built library the children import. Whoever rebuilds dist/ during a run (a watch build, a
 * test run) changes what the later children measure; comparing the fingerprint at the end says so.
 */
function libraryFingerprint(): string {
  const dist = new URL('../dist/', import.meta.url);
  const hash = createHash('sha1');
  const files = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js')).toSorted();
  for (const file of files) hash.update(file).update(readFileSync(new URL(file, dist)));
  return hash.digest('hex').slice(0, 12);
}

const began = performance.now();
const fingerprint = libraryFingerprint();
const cpus = availableParallelism();
process.stderr.write(
  `nestjs-background-work benchmarks (dist ${fingerprint}): node ${process.version}, ${cpus} CPUs, ${runs} runs per (scenario, library), each in a fresh process\n`,
);
if (quick) {
  process.stderr.write(
    `--quick: smaller sizes and ${runs} runs instead of 5, to finish in under a minute; the figures show the suite works, not how fast anything is\n`,
  );
}
const summaries: Summary[] = [];
for (const scenario of selected) {
  process.stderr.write(`${scenario.id} (${scenario.libs.join(', ')})\n`);
  const start = performance.now();
  summaries.push(await runScenario(scenario));
  process.stderr.write(`  ${scenario.id} took ${((performance.now() - start) / 1000).toFixed(1)} s\n`);
}
const seconds = ((performance.now() - began) / 1000).toFixed(1);

console.log(`\nnode ${process.version}, ${cpus} CPUs, ${quick ? 'quick mode, ' : ''}median of ${runs} runs (min, max), total ${seconds} s`);
console.log(table(summaries));
for (const { scenario, skipped } of summaries) {
  for (const [lib, reason] of skipped) console.log(`skipped ${scenario.id} / ${lib}: ${reason}`);
}

if (args.json !== undefined) {
  const out = {
    node: process.version,
    cpus,
    date: new Date().toISOString(),
    scenarios: summaries.map(({ scenario, samples }) => ({
      id: scenario.id,
      unit: scenario.unit,
      lowerIsBetter: scenario.lowerIsBetter,
      results: Object.fromEntries([...samples].map(([lib, values]) => [lib, values.length > 0 ? median(values) : null])),
    })),
  };
  writeFileSync(args.json, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${args.json}`);
}

if (libraryFingerprint() !== fingerprint) {
  console.error('WARNING: dist/ changed during the run (someone rebuilt the library): the figures may mix two versions of it');
}

const failures = summaries.reduce((n, s) => n + s.failures, 0);
if (failures > 0) {
  console.error(`${failures} run(s) failed`);
  process.exitCode = 1;
}
