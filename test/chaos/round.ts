// One round: spawn the app, load it, SIGTERM it under load, keep sending during the drain, collect what happened.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { audit, emptyAudit, type RequestRecord, type RoundAudit, type RoundConfig, type RoundFacts } from './audit.js';
import { ChildApp } from './child.js';
import { postWork } from './http.js';
import { ENV, MARK, Random, mixSeed, specFor } from './spec.js';

const APP = fileURLToPath(new URL('./app.js', import.meta.url));

/** The library's grace after the deadline (SHUTDOWN_GRACE_MS). */
export const GRACE_MS = 1_000;
/** For a shared 2-core machine: SIGTERM to exit may take this much longer than shutdownTimeout + grace. */
export const EXIT_MARGIN_MS = 5_000;
const READY_TIMEOUT_MS = 30_000;
/** A request without an answer for this long hung (Nest answers in milliseconds, 503s included). */
const HANG_MS = 5_000;
/** Bounds on the requests of a round: before SIGTERM, and during the drain. */
const MAX_LOAD_REQUESTS = 500;
const MAX_DRAIN_REQUESTS = 500;

export function roundConfig(seed: number): RoundConfig {
  const rng = new Random(seed);
  return {
    seed,
    shutdownTimeout: rng.int(300, 1_500),
    concurrency: rng.int(1, 8),
    capacity: rng.int(5, 100),
    clients: rng.int(2, 10),
    loadMs: rng.int(150, 1_500),
    pauseMs: rng.int(5, 40),
  };
}

export interface RoundRun {
  config: RoundConfig;
  audit: RoundAudit;
  /** Where the round's output was kept (failed rounds only). */
  kept: string | undefined;
}

/** The app of the round running now, for the driver to kill if it is interrupted. */
export let current: ChildApp | undefined;

export async function runRound(seed: number): Promise<RoundRun> {
  const config = roundConfig(seed);
  const dir = mkdtempSync(join(tmpdir(), `chaos-${seed}-`));
  const resultsFile = join(dir, 'results.txt');
  const startsFile = join(dir, 'starts.txt');
  writeFileSync(resultsFile, '');
  writeFileSync(startsFile, '');
  const app = new ChildApp(APP, {
    [ENV.shutdownTimeout]: String(config.shutdownTimeout),
    [ENV.concurrency]: String(config.concurrency),
    [ENV.capacity]: String(config.capacity),
    [ENV.results]: resultsFile,
    [ENV.starts]: startsFile,
  });
  current = app;
  app.watch('closing', new RegExp(`^${MARK.closing}$`, 'm'));
  app.watch('summary', /Background work stopped in \d+ ms/);
  const exitBound = config.shutdownTimeout + GRACE_MS + EXIT_MARGIN_MS;
  try {
    const [, port] = await app.waitFor(/^READY (\d+)$/m, READY_TIMEOUT_MS);
    const requests: RequestRecord[] = [];
    let sigtermAt: number | undefined;
    let nextId = 1;
    let loadSent = 0;
    let drainSent = 0;

    const client = async (index: number): Promise<void> => {
      const rng = new Random(mixSeed(seed, 0x10000 + index));
      while (!app.gone) {
        const draining = sigtermAt !== undefined;
        if (draining ? drainSent >= MAX_DRAIN_REQUESTS : loadSent >= MAX_LOAD_REQUESTS) {
          if (draining) return;
          await sleep(5); // the load's bound is reached: wait for SIGTERM
          continue;
        }
        if (draining) drainSent++;
        else loadSent++;
        const spec = specFor(seed, nextId++);
        const sentAt = performance.now();
        const reply = await postWork(Number(port), spec, HANG_MS);
        requests.push({ spec, sentAt, endedAt: performance.now(), reply });
        if (reply.kind === 'refused') return; // the server has closed
        // During the drain the clients slow down together to about 150 requests a second, so that they span it.
        const pause = draining ? rng.int(3 * config.clients, 10 * config.clients) : rng.int(0, config.pauseMs);
        if (pause > 0) await sleep(pause);
      }
    };
    const clients = Array.from({ length: config.clients }, (_, i) => client(i));

    await sleep(config.loadMs);
    sigtermAt = performance.now();
    app.signal('SIGTERM');
    const exit = await within(app.exit, exitBound);
    if (exit === 'late') await app.kill();
    await Promise.all(clients);

    const facts: RoundFacts = {
      config,
      requests,
      sigtermAt,
      closingAt: app.seen.get('closing'),
      summaryAt: app.seen.get('summary'),
      exit: exit === 'late' ? undefined : exit,
      exitBound,
      stdout: app.stdout,
      stderr: app.stderr,
      starts: readFileSync(startsFile, 'utf8'),
      results: readFileSync(resultsFile, 'utf8'),
    };
    const result = audit(facts);
    return { config, audit: result, kept: keep(dir, facts, result) };
  } catch (error) {
    await app.kill();
    const result = emptyAudit([`round aborted: ${error instanceof Error ? error.message : String(error)}`]);
    writeFileSync(join(dir, 'stdout.txt'), app.stdout);
    writeFileSync(join(dir, 'stderr.txt'), app.stderr);
    return { config, audit: result, kept: dir };
  } finally {
    current = undefined;
  }
}

/** `promise`'s value, or 'late' when `ms` pass first. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(resolve, ms, 'late')));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Keeps a failed round's files for a look (every round's with CHAOS_KEEP=1): the app's output, the starts and results
 * files, and `facts.json` (every request, and the times the audit reads, in ms of the driver's clock).
 */
function keep(dir: string, facts: RoundFacts, result: RoundAudit): string | undefined {
  if (result.problems.length === 0 && result.lost === 0 && result.duplicated === 0 && process.env.CHAOS_KEEP !== '1') {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  writeFileSync(join(dir, 'stdout.txt'), facts.stdout);
  writeFileSync(join(dir, 'stderr.txt'), facts.stderr);
  const { stdout: _stdout, stderr: _stderr, starts: _starts, results: _results, ...rest } = facts;
  writeFileSync(join(dir, 'facts.json'), JSON.stringify(rest, null, 1));
  return dir;
}
