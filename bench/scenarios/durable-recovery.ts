/**
 * durable-recovery-ms (ms): how long after a crash the jobs that the dead process was running run again. A victim
 * process (this script, started with `victim`) opens the store with the no-op `@Job` at concurrency `jobs`, enqueues
 * `jobs` jobs whose runs never finish, and once every one is running (claimed, committed) it is SIGKILLed: its
 * rows stay `running`, owned by a process that no longer exists. The clock then starts in this process before the
 * application is created on the same file, and stops when the handler has run every one of them again (each with
 * `stalls` 1). Bootstrap is inside the figure: opening the store is where the orphans are found. The time to the
 * application's `createApplicationContext()` resolving is in the detail (`bootMs`).
 *
 * Anchor: `sqlite-raw/<driver>`, after the same victim: open the file with the same pragmas, read the owner
 * records and find the dead one by its pid, put its running rows back to pending in one UPDATE, then claim them
 * with the store's UPDATE...RETURNING and call a no-op for each. memoryStore has nothing to recover (nothing
 * survives the process): it skips.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { driverMissing, openRaw, payload, rawStatements, scratchFile, subjectOf, JOB, type SqliteDriverName } from '../durable.js';
import { main, now, report, scenarioArgs, skip } from '../measure.js';

interface Params {
  jobs: number;
}

interface VictimParams {
  driver: SqliteDriverName;
  path: string;
  jobs: number;
}

/** The victim: runs `jobs` jobs that never end, says READY on stdout once all are running, and waits to be killed. */
async function victim({ driver, path, jobs: count }: VictimParams): Promise<void> {
  const { onRun, ourJobsApp, ourStore, NoopJob } = await import('../durable-app.js');
  let running = 0;
  onRun.run = () => {
    if (++running === count) process.stdout.write('READY\n');
    return new Promise<never>(() => {});
  };
  const { jobs } = await ourJobsApp(ourStore(driver, path), count, [NoopJob]);
  await Promise.all(Array.from({ length: count }, (_, seq) => jobs.enqueue(NoopJob, payload(seq))));
  // Stay alive until the SIGKILL.
  setInterval(() => {}, 60_000);
}

/** Leaves `path` with `jobs` running jobs owned by a process killed with SIGKILL. */
async function crash(driver: SqliteDriverName, path: string, jobs: number): Promise<void> {
  const file = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [file, 'victim', JSON.stringify({ driver, path, jobs } satisfies VictimParams)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('READY\n')) resolve();
    });
    child.on('exit', (code, signal) => reject(new Error(`the victim ended before its jobs were running (${code ?? signal})`)));
  });
  child.kill('SIGKILL');
  await exited;
}

async function ours(driver: SqliteDriverName, path: string, count: number): Promise<{ ms: number; bootMs: number }> {
  const { onRun, ourJobsApp, ourStore, NoopJob } = await import('../durable-app.js');
  let ran = 0;
  let stalled = 0;
  let allRan!: () => void;
  const done = new Promise<void>((resolve) => (allRan = resolve));
  onRun.run = (_data, context) => {
    if (context.stalls === 1) stalled++;
    if (++ran === count) allRan();
  };
  const began = now();
  await ourJobsApp(ourStore(driver, path), count, [NoopJob]);
  const bootMs = now() - began;
  await done;
  const ms = now() - began;
  if (stalled !== count) throw new Error(`expected ${count} runs with stalls 1, got ${stalled}`);
  return { ms, bootMs };
}

/** The bare loop's no-op handler. */
const noop = (data: { seq: number }): void => void data;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The bare-driver floor of the same recovery (no lease, no heartbeat, no Nest). */
async function raw(driver: SqliteDriverName, path: string, count: number): Promise<{ ms: number; bootMs: number }> {
  const began = now();
  const db = await openRaw(driver, path);
  const { claim } = rawStatements(db);
  const bootMs = now() - began;
  const dead = db
    .prepare('SELECT id, pid FROM bw_owners')
    .all([])
    .filter((row) => !isAlive(row.pid as number))
    .map((row) => row.id as string);
  db.prepare(
    `UPDATE bw_jobs SET state = 'pending', stalls = stalls + 1, attempts = attempts - 1, owner = NULL, lease_until = NULL
     WHERE state = 'running' AND owner IN (SELECT value FROM json_each(?))`,
  ).run([JSON.stringify(dead)]);
  let ran = 0;
  for (;;) {
    const t = Date.now();
    const rows = claim.all([t, 'bench-raw-owner', t + 30_000, t, count]);
    if (rows.length === 0) break;
    for (const row of rows) {
      noop(JSON.parse(row.payload as string));
      ran++;
    }
  }
  const ms = now() - began;
  if (ran !== count) throw new Error(`expected ${count} recovered ${JOB} jobs, got ${ran}`);
  return { ms, bootMs };
}

main(async () => {
  const { lib, params } = scenarioArgs<Params>();
  if (lib === 'victim') return victim(params as unknown as VictimParams);
  const subject = subjectOf(lib);
  const driver = subject.kind === 'ours' ? subject.store : subject.driver;
  if (driver === 'memory') return skip('memoryStore: nothing survives the process, so there is nothing to recover');
  const missing = await driverMissing(driver);
  if (missing !== undefined) return skip(missing);
  const path = scratchFile();
  await crash(driver, path, params.jobs);
  const { ms, bootMs } = subject.kind === 'ours' ? await ours(driver, path, params.jobs) : await raw(driver, path, params.jobs);
  report(ms, { bootMs });
});
