// The load-and-kill suite: `node .test-build/chaos/run.js` after `npm run build && tsc -p test/chaos/tsconfig.json`.
//   CHAOS_ROUNDS=n   rounds to run (default 20), each with a seed derived from a random base seed
//   CHAOS_SEED=s     replay the one round of seed s (as printed)
//   CHAOS_KEEP=1     keep every round's output in its temporary directory (a failed round's is always kept)
// Each round spawns the compiled app (app.ts), drives concurrent POST /work at it, sends SIGTERM at a random moment
// under load, keeps sending during the drain, and audits the result (audit.ts). Exits 1 when any check fails.
import { randomInt } from 'node:crypto';
import type { RoundAudit } from './audit.js';
import { EXIT_MARGIN_MS, GRACE_MS, current, runRound, type RoundRun } from './round.js';
import { mixSeed } from './spec.js';

const DEFAULT_ROUNDS = 20;

function parseSeed(text: string): number {
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) throw new Error(`CHAOS_SEED must be an integer in [0, 2^32), got ${text}`);
  return seed;
}

function roundSeeds(): { seeds: number[]; base: number | undefined } {
  const replay = process.env.CHAOS_SEED;
  if (replay !== undefined && replay !== '') return { seeds: [parseSeed(replay)], base: undefined };
  const raw = process.env.CHAOS_ROUNDS;
  const rounds = raw === undefined || raw === '' ? DEFAULT_ROUNDS : Number(raw);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`CHAOS_ROUNDS must be a positive integer, got ${raw}`);
  const base = randomInt(0x1_0000_0000 - 1);
  return { seeds: Array.from({ length: rounds }, (_, i) => mixSeed(base, i)), base };
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
  const { seeds, base } = roundSeeds();
  const began = performance.now();
  console.log(
    base === undefined
      ? `chaos: replaying seed ${seeds[0]}`
      : `chaos: ${seeds.length} rounds from base seed ${base}; replay one round with CHAOS_SEED=<its seed>`,
  );
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
  return failedSeeds.length === 0 ? 0 : 1;
}

// An interrupted run leaves no app behind.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void current?.kill();
    process.exit(130);
  });
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
}
