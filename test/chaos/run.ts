// The load-and-kill suite: `node .test-build/chaos/run.js` after `npm run build && tsc -p test/chaos/tsconfig.json`.
//   CHAOS_ROUNDS=n   rounds to run (default 20), each with a seed derived from a random base seed
//   CHAOS_SEED=s     replay the one round of seed s (as printed)
//   CHAOS_KEEP=1     keep every round's output in its temporary directory (a failed round's is always kept)
//   CHAOS_DURABLE_ROUNDS=n   durable rounds after them (default 20; 0 for none)
//   CHAOS_DURABLE_SEED=s     replay the one durable round of seed s (as printed)
// Each round spawns the compiled app (app.ts), drives concurrent POST /work at it, sends SIGTERM at a random moment
// under load, keeps sending during the drain, and audits the result (audit.ts). Each durable round (durable-round.ts)
// SIGKILLs the durable app (durable-app.ts) under load, restarts it on the same SQLite file, lets it reach idle, stops
// it with SIGTERM and audits the result (durable-audit.ts). Exits 1 when any check fails.
import { randomInt } from 'node:crypto';
import type { RoundAudit } from './audit.js';
import type { DurableAudit } from './durable-audit.js';
import { currentDurable, isCleanDurable, runDurableRound, type DurableRun } from './durable-round.js';
import { EXIT_MARGIN_MS, GRACE_MS, current, runRound, type RoundRun } from './round.js';
import { mixSeed } from './spec.js';

const DEFAULT_ROUNDS = 20;
const DEFAULT_DURABLE_ROUNDS = 20;

function parseSeed(text: string): number {
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) throw new Error(`CHAOS_SEED must be an integer in [0, 2^32), got ${text}`);
  return seed;
}

function roundCount(name: string, fallback: number): number {
  const raw = process.env[name];
  const rounds = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(rounds) || rounds < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return rounds;
}

/**
 * The seeds of the in-memory rounds and of the durable rounds. Replaying a seed of one kind (CHAOS_SEED or
 * CHAOS_DURABLE_SEED) runs that one round, and none of the other kind unless its seed is given too.
 */
function roundSeeds(): { seeds: number[]; durable: number[]; base: number | undefined } {
  const replay = process.env.CHAOS_SEED;
  const replayDurable = process.env.CHAOS_DURABLE_SEED;
  const replaying = (replay !== undefined && replay !== '') || (replayDurable !== undefined && replayDurable !== '');
  if (replaying) {
    return {
      seeds: replay !== undefined && replay !== '' ? [parseSeed(replay)] : [],
      durable: replayDurable !== undefined && replayDurable !== '' ? [parseSeed(replayDurable)] : [],
      base: undefined,
    };
  }
  const rounds = roundCount('CHAOS_ROUNDS', DEFAULT_ROUNDS);
  const durableCount = roundCount('CHAOS_DURABLE_ROUNDS', DEFAULT_DURABLE_ROUNDS);
  const base = randomInt(0x1_0000_0000 - 1);
  return {
    seeds: Array.from({ length: rounds }, (_, i) => mixSeed(base, i)),
    durable: Array.from({ length: durableCount }, (_, i) => mixSeed(base ^ 0x0d0_ab1e, i)),
    base,
  };
}

function roundLine(index: number, total: number, run: RoundRun): string {
  const { config: c, audit: a } = run;
  const r = a.replies;
  const exit = a.exitMs === undefined ? 'no exit' : `exit in ${a.exitMs} ms (bound ${c.shutdownTimeout + GRACE_MS + EXIT_MARGIN_MS})`;
  const verdict = isClean(a) ? 'ok' : `FAIL (${a.problems.length} problems)`;
  return (
    `round ${String(index + 1).padStart(2)}/${total} seed ${c.seed}: timeout ${c.shutdownTimeout} ms, concurrency ${c.concurrency}` +
    `${a.peakRunning === undefined ? '' : ` (peak ${a.peakRunning})`}, capacity ${c.capacity}, ${c.clients} clients, SIGTERM at ${c.loadMs} ms | ` +
    `202 ${r.accepted} (${a.acceptedAfterSigterm} sent after SIGTERM), 503 full ${r.full} closing ${r.closing} closed ${r.closed}, ` +
    `refused ${r.refused}, reset at close ${r['reset-at-close']}` +
    `${r.reset + r.hang + r.status + r.error > 0 ? `, BAD reset ${r.reset} hang ${r.hang} status ${r.status} error ${r.error}` : ''} | ` +
    `finished ${a.finished}, failed ${a.failed}, cancelled ${a.cancelled} (${a.cancelledRunning} running, ${a.abandoned} abandoned), ` +
    `late ${a.late}, unacked ${a.unacked}, lost ${a.lost}, duplicated ${a.duplicated} | ${exit} | ${verdict}`
  );
}

function isClean(a: RoundAudit): boolean {
  return a.problems.length === 0 && a.lost === 0 && a.duplicated === 0;
}

async function main(): Promise<number> {
  const { seeds, durable, base } = roundSeeds();
  const began = performance.now();
  console.log(
    base === undefined
      ? `chaos: replaying ${seeds.length > 0 ? `seed ${seeds[0]}` : ''}${seeds.length > 0 && durable.length > 0 ? ' and ' : ''}${durable.length > 0 ? `durable seed ${durable[0]}` : ''}`
      : `chaos: ${seeds.length} rounds and ${durable.length} durable rounds from base seed ${base}; ` +
          'replay one round with CHAOS_SEED=<its seed>, one durable round with CHAOS_DURABLE_SEED=<its seed>',
  );
  let failed = false;
  if (seeds.length > 0) failed = (await memoryRounds(seeds, began)) || failed;
  if (durable.length > 0) failed = (await durableRounds(durable)) || failed;
  return failed ? 1 : 0;
}

/** The in-memory rounds; true when any failed. */
async function memoryRounds(seeds: number[], began: number): Promise<boolean> {
  const totals = { accepted: 0, finished: 0, failed: 0, cancelled: 0, lost: 0, duplicated: 0 };
  const more = { running: 0, abandoned: 0, late: 0, unacked: 0, full: 0, closing: 0, closed: 0, refused: 0, resetAtClose: 0, maxExitMs: 0 };
  const failedSeeds: number[] = [];
  for (const [index, seed] of seeds.entries()) {
    const run = await runRound(seed);
    const a = run.audit;
    console.log(roundLine(index, seeds.length, run));
    if (!isClean(a)) {
      failedSeeds.push(seed);
      for (const problem of a.problems.slice(0, 25)) console.log(`    - ${problem}`);
      if (a.problems.length > 25) console.log(`    - ... ${a.problems.length - 25} more`);
    }
    if (run.kept) console.log(`    output kept in ${run.kept}`);
    totals.accepted += a.accepted;
    totals.finished += a.finished;
    totals.failed += a.failed;
    totals.cancelled += a.cancelled;
    totals.lost += a.lost;
    totals.duplicated += a.duplicated;
    more.running += a.cancelledRunning;
    more.abandoned += a.abandoned;
    more.late += a.late;
    more.unacked += a.unacked;
    more.full += a.replies.full;
    more.closing += a.replies.closing;
    more.closed += a.replies.closed;
    more.refused += a.replies.refused;
    more.resetAtClose += a.replies['reset-at-close'];
    more.maxExitMs = Math.max(more.maxExitMs, a.exitMs ?? 0);
  }
  const seconds = ((performance.now() - began) / 1000).toFixed(1);
  console.log(
    `chaos: ${seconds} s; cancelled ${more.running} while running (${more.abandoned} abandoned), ${more.late} late returns, ` +
      `${more.unacked} unacked; 503 full ${more.full}, closing ${more.closing}, closed ${more.closed}; refused ${more.refused}, ` +
      `reset at close ${more.resetAtClose}; slowest exit ${more.maxExitMs} ms after SIGTERM` +
      (failedSeeds.length > 0 ? `; FAILED seeds: ${failedSeeds.join(', ')}` : ''),
  );
  console.log(
    `chaos: rounds ${seeds.length}, accepted ${totals.accepted}, finished ${totals.finished}, failed ${totals.failed}, ` +
      `cancelled ${totals.cancelled}, lost ${totals.lost}, duplicated ${totals.duplicated}`,
  );
  return failedSeeds.length > 0;
}

function durableLine(index: number, total: number, run: DurableRun): string {
  const { config: c, audit: a } = run;
  const r = a.replies;
  const kills = c.kills.map((k) => `${k.afterReadyMs}${k.againMs === undefined ? '' : `+${k.againMs}`}`).join(',');
  const verdict = isCleanDurable(a) ? 'ok' : `FAIL (${a.problems.length} problems)`;
  return (
    `durable round ${String(index + 1).padStart(2)}/${total} seed ${c.seed}: concurrency ${c.concurrency}, ${c.clients} clients, ` +
    `${run.boots} boots, kills at ${kills} ms | 202 ${r.accepted}, refused ${r.refused}, reset ${r.reset} | ` +
    `finished ${a.finished} (${a.failed} failing as planned), lost ${a.lost}, duplicated ${a.duplicated}, ` +
    `running at a kill ${a.runningAtKill} (${a.endedUncommitted} ended, not committed), unacked ran ${a.unacked} | ` +
    `idle ${run.drainMs === undefined ? 'never' : `in ${run.drainMs} ms`}, exit ${run.exitMs === undefined ? 'never' : `in ${run.exitMs} ms`} | ${verdict}`
  );
}

/** The durable rounds; true when any failed. */
async function durableRounds(seeds: number[]): Promise<boolean> {
  const began = performance.now();
  const totals = { acknowledged: 0, finished: 0, failed: 0, lost: 0, duplicated: 0, runningAtKill: 0, unacked: 0, boots: 0 };
  const failedSeeds: number[] = [];
  for (const [index, seed] of seeds.entries()) {
    const run = await runDurableRound(seed);
    const a: DurableAudit = run.audit;
    console.log(durableLine(index, seeds.length, run));
    if (!isCleanDurable(a)) {
      failedSeeds.push(seed);
      for (const problem of a.problems.slice(0, 25)) console.log(`    - ${problem}`);
      if (a.problems.length > 25) console.log(`    - ... ${a.problems.length - 25} more`);
    }
    if (run.kept) console.log(`    output kept in ${run.kept}`);
    totals.acknowledged += a.acknowledged;
    totals.finished += a.finished;
    totals.failed += a.failed;
    totals.lost += a.lost;
    totals.duplicated += a.duplicated;
    totals.runningAtKill += a.runningAtKill;
    totals.unacked += a.unacked;
    totals.boots += run.boots;
  }
  const seconds = ((performance.now() - began) / 1000).toFixed(1);
  console.log(
    `durable chaos: ${seconds} s; ${totals.boots} processes, ${totals.failed} finished by their planned failure, ` +
      `${totals.unacked} ran without a 202 (the kill cut the reply)` + (failedSeeds.length > 0 ? `; FAILED seeds: ${failedSeeds.join(', ')}` : ''),
  );
  console.log(
    `durable chaos: rounds ${seeds.length}, acknowledged ${totals.acknowledged}, finished ${totals.finished}, lost ${totals.lost}, ` +
      `duplicated ${totals.duplicated} (while running at a kill ${totals.runningAtKill})`,
  );
  return failedSeeds.length > 0;
}

// An interrupted run leaves no app behind.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void current?.kill();
    void currentDurable?.kill();
    process.exit(130);
  });
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
}
