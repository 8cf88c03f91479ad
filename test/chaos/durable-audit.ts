// The checks of one durable round: where every acknowledged job ended, which ran twice and whether a kill explains it,
// what the clients got, and how each process ended. Pure functions of what the round collected.
import type { ChildExit } from './child.js';
import { DURABLE_FAILURE, finalAttempt, parseMarks, plannedOutcome, type DurableSpec, type Mark } from './durable-spec.js';
import type { StoredRow } from './durable-store.js';
import type { JsonReply } from './http.js';
import { MARK } from './spec.js';

export interface DurableConfig {
  seed: number;
  concurrency: number;
  clients: number;
  /** Longest pause of a client between two requests. */
  pauseMs: number;
  /** Requests of the round, at most. */
  maxRequests: number;
  /** Each kill: how long after READY it lands, and whether the restart after it is killed again (ms after spawn). */
  kills: { afterReadyMs: number; againMs: number | undefined }[];
  /** How long the clients keep sending after the last restart is ready. */
  tailMs: number;
}

export interface DurableRequest {
  spec: DurableSpec;
  /** Which boot of the round it was sent to (its index in `boots`). */
  boot: number;
  sentAt: number;
  endedAt: number;
  reply: JsonReply;
}

export interface Boot {
  pid: number | undefined;
  /** True for a boot that the driver SIGKILLed. */
  killed: boolean;
  /** Whether it had printed READY when it was killed (or stopped). */
  ready: boolean;
  /** ms after spawn of the kill. */
  killedAfterMs: number | undefined;
  exit: ChildExit | undefined;
  stdout: string;
  stderr: string;
  /** The jobs that the file said were running once the kill had landed (before the next boot). */
  runningAtKill: StoredRow[] | undefined;
}

export interface DurableFacts {
  config: DurableConfig;
  requests: DurableRequest[];
  boots: Boot[];
  marks: string;
  /** Every job of the file once the last process has stopped; undefined when it could not be read. */
  finalRows: StoredRow[] | undefined;
  /** ms from the clients' stop until GET /stats showed nothing pending, running or scheduled; undefined: never did. */
  drainMs: number | undefined;
  /** ms from SIGTERM to exit of the last process; undefined: outlived its bound and was killed. */
  exitMs: number | undefined;
  exitBound: number;
}

export interface DurableAudit {
  acknowledged: number;
  /** Acknowledged jobs that reached their planned end, once or more: acknowledged = finished + lost. */
  finished: number;
  /** Of the finished, those whose planned end is the failure of their last attempt. */
  failed: number;
  lost: number;
  duplicated: number;
  /** Distinct acknowledged jobs that the file said were running when a kill landed. */
  runningAtKill: number;
  /** Of those, jobs whose handler had already returned (its end was not committed yet): the at-least-once window. */
  endedUncommitted: number;
  /** Jobs that ran although their client never got an answer (the kill reset the request). */
  unacked: number;
  replies: { accepted: number; refused: number; reset: number };
  problems: string[];
}

export function emptyDurableAudit(problems: string[]): DurableAudit {
  return {
    acknowledged: 0,
    finished: 0,
    failed: 0,
    lost: 0,
    duplicated: 0,
    runningAtKill: 0,
    endedUncommitted: 0,
    unacked: 0,
    replies: { accepted: 0, refused: 0, reset: 0 },
    problems,
  };
}

const LOG_LINE = /^\[Nest\] \d+\s+- .*?\s(LOG|WARN|ERROR|DEBUG|VERBOSE|FATAL) \[([^\]]+)\] (.*)$/;
const PLANNED_FAILED_LOG = new RegExp(`^Work item #\\S+ "[^"]+" on queue "[^"]+" failed(?: after \\d+ attempts)?: ${DURABLE_FAILURE}: planned failure of job \\d+ on attempt \\d+$`);
const STACK_HEAD = new RegExp(`^${DURABLE_FAILURE}: planned failure of job \\d+ on attempt \\d+$`);
const FRAME = /^\s+at /;

/**
 * The rule: every acknowledged job (202) ends exactly once: `done` on the attempt its spec lets succeed, or `fail` on
 * the last attempt its retry policy allows, and the file agrees (succeeded or failed, with that many attempts
 * charged). Never ended: lost. Ended twice: duplicated, which at-least-once allows only for a job that the file said
 * was running when a kill landed. An attempt that started twice is held to the same rule.
 */
export function auditDurable(facts: DurableFacts): DurableAudit {
  const problems: string[] = [];
  const result = emptyDurableAudit(problems);
  const { marks, bad } = parseMarks(facts.marks);
  for (const line of bad.slice(0, 5)) problems.push(`marks file: a line that does not parse: ${JSON.stringify(line)}`);

  // Which boot wrote each mark, and what the file said was running at each kill.
  const bootOfPid = new Map<number, number>();
  facts.boots.forEach((boot, i) => boot.pid !== undefined && bootOfPid.set(boot.pid, i));
  /** How many kills found each job running: each may explain one more end, or one more start of an attempt. */
  const atKill = new Map<number, number>();
  facts.boots.forEach((boot) => boot.runningAtKill?.forEach((row) => atKill.set(row.id, (atKill.get(row.id) ?? 0) + 1)));

  const specs = new Map<number, DurableSpec>();
  const acked = new Map<number, string>();
  for (const request of facts.requests) {
    specs.set(request.spec.id, request.spec);
    checkReply(request, result, acked);
    // A refused connection or a reset is the mark of a kill: never from a process that was not killed.
    const kind = request.reply.kind;
    if ((kind === 'refused' || kind === 'reset') && facts.boots[request.boot]?.killed !== true) {
      problems.push(`job ${request.spec.id}: ${kind} by boot ${request.boot + 1}, which was not killed`);
    }
  }
  const marksById = new Map<number, Mark[]>();
  for (const mark of marks) {
    const list = marksById.get(mark.id);
    if (list) list.push(mark);
    else marksById.set(mark.id, [mark]);
    if (!bootOfPid.has(mark.pid)) problems.push(`job ${mark.id}: a mark from pid ${mark.pid}, which is none of the round's processes`);
  }
  const rowsById = new Map<number, StoredRow[]>();
  for (const row of facts.finalRows ?? []) {
    const list = rowsById.get(row.id);
    if (list) list.push(row);
    else rowsById.set(row.id, [row]);
  }

  const ids = new Set<number>([...acked.keys(), ...marksById.keys(), ...rowsById.keys()]);
  for (const id of [...ids].toSorted((a, b) => a - b)) {
    const spec = specs.get(id);
    const job = `job ${id}`;
    if (spec === undefined) {
      problems.push(`${job} is in the file or ran, but was never requested`);
      continue;
    }
    const isAcked = acked.has(id);
    const mine = marksById.get(id) ?? [];
    const rows = rowsById.get(id) ?? [];
    const last = spec.attempts;
    const dones = mine.filter((m) => m.kind === 'done');
    const finalFails = mine.filter((m) => m.kind === 'fail' && m.attempt === last);
    const ends = dones.length + finalFails.length;
    const kills = atKill.get(id) ?? 0;
    const explained = kills > 0;

    if (!isAcked && mine.length > 0) result.unacked++;
    if (isAcked) {
      result.acknowledged++;
      if (explained) result.runningAtKill++;
      // finished: reached its planned end (a success, or the planned failure of its last attempt), once or more.
      if (ends === 0) result.lost++;
      else {
        result.finished++;
        if (dones.length === 0) result.failed++;
        if (ends > 1) result.duplicated++;
      }
    }
    if (isAcked && ends === 0) {
      problems.push(`${job} LOST: acknowledged as ${acked.get(id)}, never finished nor failed (${describeMarks(mine)}; in the file: ${describeRows(rows)})`);
    }
    if (ends > 1 + kills) {
      problems.push(`${job} DUPLICATED beyond what kills explain: ended ${ends} times, running at ${kills} kills (${describeMarks(mine)})`);
    }
    // Planned: finished on attempt fails + 1, or failed on the last attempt allowed.
    const planned = plannedOutcome(spec);
    if (planned === 'failed' && dones.length > 0) problems.push(`${job} finished, but every attempt of it throws (${describeMarks(mine)})`);
    if (planned === 'finished' && finalFails.length > 0) problems.push(`${job} failed for good, but attempt ${spec.fails + 1} of ${last} succeeds (${describeMarks(mine)})`);
    const final = finalAttempt(spec);
    for (const m of mine) {
      if (m.attempt < 1 || m.attempt > final) problems.push(`${job}: attempt ${m.attempt} ${m.kind}, but its plan ends on attempt ${final} (${describeMarks(mine)})`);
    }
    // Every attempt before the last started and failed; an attempt started twice only after a kill cut it short.
    const startsOf = new Map<number, number>();
    for (const m of mine) if (m.kind === 'start') startsOf.set(m.attempt, (startsOf.get(m.attempt) ?? 0) + 1);
    if (ends > 0) {
      for (let a = 1; a < final; a++) {
        if (!mine.some((m) => m.kind === 'fail' && m.attempt === a)) problems.push(`${job} ended on attempt ${final}, but attempt ${a} never failed (${describeMarks(mine)})`);
      }
    }
    for (const [attempt, n] of startsOf) {
      if (n > 1 + kills) problems.push(`${job}: attempt ${attempt} started ${n} times, but the job was running at ${kills} kills (${describeMarks(mine)})`);
    }

    // The file agrees.
    if (facts.finalRows !== undefined) {
      if (rows.length > 1) problems.push(`${job} is ${rows.length} jobs in the file: ${describeRows(rows)}`);
      else if (rows.length === 0 && isAcked) problems.push(`${job} was acknowledged as ${acked.get(id)} but is not in the file`);
      const row = rows[0];
      if (row !== undefined) {
        if (row.key !== spec.key) problems.push(`${job} has key ${String(row.key)} in the file, not ${String(spec.key)}`);
        if (isAcked && row.job !== acked.get(id)) problems.push(`${job} was acknowledged as ${acked.get(id)}, but the file has it as ${row.job}`);
        const state = planned === 'finished' ? 'succeeded' : 'failed';
        if (row.state !== state || row.attempts !== final) {
          problems.push(`${job} is ${row.state} after ${row.attempts} attempts in the file, not ${state} after ${final} (${describeMarks(mine)})`);
        }
      }
    }
  }

  // At each kill: a handler that had started and not returned in that process is running in the file. One that had
  // returned but is still running there was in the window between its end and the commit of it.
  for (const [i, boot] of facts.boots.entries()) {
    if (!boot.killed) continue;
    if (boot.exit?.signal !== 'SIGKILL') {
      problems.push(`boot ${i + 1} (pid ${boot.pid}) ended with code ${boot.exit?.code} and signal ${boot.exit?.signal} before its SIGKILL: ${tail(boot.stderr || boot.stdout)}`);
    }
    if (boot.runningAtKill === undefined) continue;
    const running = new Set(boot.runningAtKill.map((row) => row.id));
    const lastOf = new Map<number, Mark>();
    for (const m of marks) if (m.pid === boot.pid) lastOf.set(m.id, m);
    for (const [id, m] of lastOf) {
      if (m.kind === 'start' && !running.has(id)) problems.push(`job ${id} was running in pid ${boot.pid} when it was killed, but the file did not say running`);
      if (m.kind !== 'start' && running.has(id)) result.endedUncommitted++;
    }
  }

  if (facts.finalRows === undefined) problems.push('the job file could not be read after the last process stopped');
  for (const row of facts.finalRows ?? []) {
    if (row.state === 'pending' || row.state === 'running' || row.state === 'scheduled') problems.push(`job ${row.id} is still ${row.state} in the file after the drain`);
  }
  if (facts.drainMs === undefined) problems.push('GET /stats never showed every job ended');
  const lastBoot = facts.boots.at(-1);
  if (facts.exitMs === undefined) problems.push(`the last process outlived ${facts.exitBound} ms after SIGTERM: killed`);
  else if (lastBoot?.exit?.code !== 0) problems.push(`the last process exited with code ${lastBoot?.exit?.code} and signal ${lastBoot?.exit?.signal} after SIGTERM, not 0`);
  for (const [i, boot] of facts.boots.entries()) {
    checkOutput(`boot ${i + 1} stdout`, boot.stdout, problems);
    checkOutput(`boot ${i + 1} stderr`, boot.stderr, problems);
  }
  return result;
}

function checkReply(request: DurableRequest, result: DurableAudit, acked: Map<number, string>): void {
  const { reply, spec } = request;
  switch (reply.kind) {
    case 'answer': {
      const body = reply.body as { id?: unknown; job?: unknown } | undefined;
      if (reply.status === 202 && body?.id === spec.id && typeof body.job === 'string') {
        result.replies.accepted++;
        acked.set(spec.id, body.job);
      } else {
        result.problems.push(`job ${spec.id}: answered ${reply.status} ${JSON.stringify(reply.text)}`);
      }
      return;
    }
    // The server was killed: nothing listens (yet), or the connection died with it.
    case 'refused':
      result.replies.refused++;
      return;
    case 'reset':
      result.replies.reset++;
      return;
    case 'hang':
      result.problems.push(`job ${spec.id}: no answer within the client's time limit (boot ${request.boot + 1})`);
      return;
    case 'error':
      result.problems.push(`job ${spec.id}: connection error ${reply.code}`);
      return;
  }
}

function describeMarks(marks: Mark[]): string {
  return marks.length === 0 ? 'no marks' : marks.map((m) => `${m.kind} #${m.attempt} in ${m.pid}`).join(', ');
}

function describeRows(rows: StoredRow[]): string {
  return rows.length === 0 ? 'absent' : rows.map((r) => `${r.job} ${r.state} after ${r.attempts} attempts, ${r.stalls} stalls`).join('; ');
}

function tail(text: string): string {
  return JSON.stringify(text.trim().split('\n').slice(-3).join(' | ').slice(0, 300));
}

/**
 * Every line is a Nest log line or one of the app's marks; the only error lines are planned failures', and the only
 * stacks are theirs. A killed process's last line may be cut short: it is left out.
 */
function checkOutput(stream: string, text: string, problems: string[]): void {
  const lines = text.split('\n');
  lines.pop(); // '' after the last newline, or a line cut short by a kill
  let inPlannedStack = false;
  const before = problems.length;
  for (const line of lines) {
    const log = LOG_LINE.exec(line);
    if (log !== null) {
      const [, level, context, message] = log as unknown as [string, string, string, string];
      inPlannedStack = false;
      if (level === 'ERROR' || level === 'FATAL') {
        if (context === 'BackgroundWork' && PLANNED_FAILED_LOG.test(message)) inPlannedStack = true;
        else problems.push(`${stream}: unexpected ${level} [${context}] ${message.slice(0, 300)}`);
      }
      continue;
    }
    if (/^READY \d+$/.test(line)) continue;
    if (line.startsWith(MARK.unhandled)) {
      problems.push(`${stream}: ${line.slice(0, 300)}`);
      continue;
    }
    if (inPlannedStack && (STACK_HEAD.test(line) || FRAME.test(line))) continue;
    problems.push(`${stream}: unexpected output: ${line.slice(0, 300)}`);
  }
  if (problems.length - before > 10) problems.splice(before + 10, Infinity, `${stream}: ${problems.length - before - 10} more`);
}
