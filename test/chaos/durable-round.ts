// One durable round: spawn the durable app on a fresh SQLite file, load it with POST /jobs, SIGKILL it while jobs run,
// start it again on the same file (and maybe kill that one too), and at the end let it reach idle and stop it with
// SIGTERM. Then audit (durable-audit.ts) what the clients got, what the handlers marked and what the file says.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ChildApp, type ChildExit } from './child.js';
import { auditDurable, emptyDurableAudit, type Boot, type DurableAudit, type DurableConfig, type DurableFacts, type DurableRequest } from './durable-audit.js';
import { DURABLE_ENV, durableSpecFor } from './durable-spec.js';
import { hasJobsTable, readJobs, type StoredRow } from './durable-store.js';
import { requestJson } from './http.js';
import { Random, mixSeed } from './spec.js';

const APP = fileURLToPath(new URL('./durable-app.js', import.meta.url));

const READY_TIMEOUT_MS = 30_000;
/** A request without an answer for this long hung (a kill resets a connection at once: it does not hang). */
const HANG_MS = 5_000;
/** The app's shutdownTimeout (durable-app.ts), its grace, and a margin for a shared machine. */
const EXIT_BOUND_MS = 10_000 + 1_000 + 5_000;
/** From the clients' stop until GET /stats must show every job ended. */
const DRAIN_TIMEOUT_MS = 60_000;

export function durableConfig(seed: number): DurableConfig {
  const rng = new Random(mixSeed(seed, 0xd0_ab1e));
  const kills = Array.from({ length: rng.int(1, 3) }, () => ({
    afterReadyMs: rng.int(80, 900),
    againMs: rng.chance(0.3) ? rng.int(20, 700) : undefined,
  }));
  const clients = rng.int(2, 6);
  return {
    seed,
    concurrency: rng.int(2, 8),
    clients,
    // Each client pauses up to this long between requests: together about 70 to 200 requests a second, so that the
    // load spans every kill (requests are in flight when one lands) and the round stays a few seconds long.
    pauseMs: clients * rng.int(10, 28),
    maxRequests: rng.int(120, 260),
    kills,
    tailMs: rng.int(50, 400),
  };
}

export interface DurableRun {
  config: DurableConfig;
  audit: DurableAudit;
  boots: number;
  drainMs: number | undefined;
  exitMs: number | undefined;
  kept: string | undefined;
}

/** The app of the round running now, for the driver to kill if it is interrupted. */
export let currentDurable: ChildApp | undefined;

export async function runDurableRound(seed: number): Promise<DurableRun> {
  const config = durableConfig(seed);
  const dir = mkdtempSync(join(tmpdir(), `chaos-durable-${seed}-`));
  const db = join(dir, 'jobs.db');
  const marksFile = join(dir, 'marks.txt');
  writeFileSync(marksFile, '');
  const boots: Boot[] = [];
  const apps: ChildApp[] = [];
  const requests: DurableRequest[] = [];
  /** The port of the boot that is ready and not being killed; undefined between a kill and the next READY. */
  let port: number | undefined;
  let bootIndex = -1;
  /** Set once the clients are to stop (an object: the clients' loop reads it after each await). */
  const load = { stop: false };
  let nextId = 1;

  const spawnBoot = (): { app: ChildApp; boot: Boot; spawnedAt: number } => {
    const app = new ChildApp(APP, {
      [DURABLE_ENV.db]: db,
      [DURABLE_ENV.marks]: marksFile,
      [DURABLE_ENV.concurrency]: String(config.concurrency),
    });
    currentDurable = app;
    apps.push(app);
    const boot: Boot = { pid: app.pid, killed: false, ready: false, killedAfterMs: undefined, exit: undefined, stdout: '', stderr: '', runningAtKill: undefined };
    boots.push(boot);
    bootIndex = boots.length - 1;
    return { app, boot, spawnedAt: performance.now() };
  };
  /** A real SIGKILL, then what the file says was running at that moment (no process has the file open now). */
  const kill = async (app: ChildApp, boot: Boot, spawnedAt: number): Promise<void> => {
    port = undefined;
    boot.killed = true;
    boot.killedAfterMs = Math.round(performance.now() - spawnedAt);
    if (app.pid !== undefined && !app.gone) process.kill(app.pid, 'SIGKILL');
    const exit = await app.exit;
    settle(app, boot, exit);
    boot.runningAtKill = existsSync(db) && hasJobsTable(db) ? readJobs(db, 'running') : [];
  };

  const client = async (index: number): Promise<void> => {
    const rng = new Random(mixSeed(seed, 0x20000 + index));
    while (!load.stop) {
      const target = port;
      if (target === undefined || nextId > config.maxRequests) {
        await sleep(5);
        continue;
      }
      const spec = durableSpecFor(seed, nextId++);
      const boot = bootIndex;
      const sentAt = performance.now();
      const reply = await requestJson(target, 'POST', '/jobs', spec, HANG_MS);
      requests.push({ spec, boot, sentAt, endedAt: performance.now(), reply });
      const pause = rng.int(0, config.pauseMs);
      if (pause > 0) await sleep(pause);
    }
  };

  let clients: Promise<void>[] = [];
  try {
    clients = Array.from({ length: config.clients }, (_, i) => client(i));
    for (const planned of config.kills) {
      // A boot that the load runs against, killed a while after it is ready.
      {
        const { app, boot, spawnedAt } = spawnBoot();
        port = await awaitReady(app, boot);
        await sleep(planned.afterReadyMs);
        await kill(app, boot, spawnedAt);
      }
      // Maybe its restart is killed too, early: during its recovery, or just after it is ready.
      if (planned.againMs !== undefined) {
        const { app, boot, spawnedAt } = spawnBoot();
        const ready = awaitReady(app, boot).then(
          (p) => {
            if (!boot.killed) port = p;
          },
          () => undefined,
        );
        await sleep(planned.againMs);
        await kill(app, boot, spawnedAt);
        await ready;
      }
    }
    // The last boot: the load goes on for a while, then stops, and the app must reach idle and exit 0 on SIGTERM.
    const { app, boot } = spawnBoot();
    port = await awaitReady(app, boot);
    await sleep(config.tailMs);
    load.stop = true;
    await Promise.all(clients);
    const finalPort = port;
    const drainFrom = performance.now();
    let drainMs: number | undefined;
    while (performance.now() - drainFrom < DRAIN_TIMEOUT_MS) {
      const reply = await requestJson(finalPort, 'GET', '/stats', undefined, HANG_MS);
      const stats = reply.kind === 'answer' && reply.status === 200 ? (reply.body as Record<string, number>) : undefined;
      if (stats !== undefined && (stats.pending ?? 0) + (stats.running ?? 0) + (stats.scheduled ?? 0) === 0) {
        drainMs = Math.round(performance.now() - drainFrom);
        break;
      }
      await sleep(50);
    }
    port = undefined;
    const termAt = performance.now();
    app.signal('SIGTERM');
    const exit = await within(app.exit, EXIT_BOUND_MS);
    if (exit === 'late') await app.kill();
    const ended = await app.exit;
    settle(app, boot, ended);
    const exitMs = exit === 'late' ? undefined : Math.round(exit.at - termAt);

    let finalRows: StoredRow[] | undefined;
    try {
      finalRows = readJobs(db);
    } catch {
      finalRows = undefined;
    }
    const facts: DurableFacts = { config, requests, boots, marks: readFileSync(marksFile, 'utf8'), finalRows, drainMs, exitMs, exitBound: EXIT_BOUND_MS };
    const result = auditDurable(facts);
    return { config, audit: result, boots: boots.length, drainMs, exitMs, kept: keep(dir, facts, result) };
  } catch (error) {
    load.stop = true;
    for (const app of apps) await app.kill();
    await Promise.all(clients);
    apps.forEach((app, i) => {
      writeFileSync(join(dir, `stdout-${i + 1}.txt`), app.stdout);
      writeFileSync(join(dir, `stderr-${i + 1}.txt`), app.stderr);
    });
    const result = emptyDurableAudit([`round aborted: ${error instanceof Error ? error.message : String(error)}`]);
    return { config, audit: result, boots: boots.length, drainMs: undefined, exitMs: undefined, kept: dir };
  } finally {
    currentDurable = undefined;
  }
}

async function awaitReady(app: ChildApp, boot: Boot): Promise<number> {
  const [, text] = await app.waitFor(/^READY (\d+)$/m, READY_TIMEOUT_MS);
  boot.ready = true;
  return Number(text);
}

function settle(app: ChildApp, boot: Boot, exit: ChildExit): void {
  boot.exit = exit;
  boot.stdout = app.stdout;
  boot.stderr = app.stderr;
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

export function isCleanDurable(a: DurableAudit): boolean {
  return a.problems.length === 0 && a.lost === 0;
}

/**
 * Keeps a failed round's files (every round's with CHAOS_KEEP=1): the job file, the marks, each boot's output and
 * `facts.json` (every request and boot, and the file's final rows).
 */
function keep(dir: string, facts: DurableFacts, result: DurableAudit): string | undefined {
  if (isCleanDurable(result) && process.env.CHAOS_KEEP !== '1') {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  facts.boots.forEach((boot, i) => {
    writeFileSync(join(dir, `stdout-${i + 1}.txt`), boot.stdout);
    writeFileSync(join(dir, `stderr-${i + 1}.txt`), boot.stderr);
  });
  const { marks: _marks, ...rest } = facts;
  const boots = rest.boots.map(({ stdout: _stdout, stderr: _stderr, ...boot }) => boot);
  writeFileSync(join(dir, 'facts.json'), JSON.stringify({ ...rest, boots }, null, 1));
  return dir;
}
