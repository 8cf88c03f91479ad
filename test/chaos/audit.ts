// The checks of one round: where every accepted item ended, what the clients got, how the process ended, and what
// it printed. Pure functions of what the round collected.
import type { ChildExit } from './child.js';
import type { Reply, ReplyKind } from './http.js';
import { MARK, PLANNED_FAILURE, allowedAttempts, type ItemSpec } from './spec.js';

export interface RoundConfig {
  seed: number;
  shutdownTimeout: number;
  concurrency: number;
  capacity: number;
  /** Concurrent HTTP clients. */
  clients: number;
  /** How long the load runs before SIGTERM. */
  loadMs: number;
  /** Longest pause of a client between two requests. */
  pauseMs: number;
}

export interface RequestRecord {
  spec: ItemSpec;
  /** performance.now() when the request was sent and when it ended. */
  sentAt: number;
  endedAt: number;
  reply: Reply;
}

export interface RoundFacts {
  config: RoundConfig;
  requests: RequestRecord[];
  sigtermAt: number;
  /** When the driver first saw the app's closing mark and the library's summary line. */
  closingAt: number | undefined;
  summaryAt: number | undefined;
  /** Undefined when the process outlived `exitBound` and was killed. */
  exit: ChildExit | undefined;
  exitBound: number;
  stdout: string;
  stderr: string;
  starts: string;
  results: string;
}

export type Outcome = 'finished' | 'failed' | 'cancelled';

/** How the client-side replies are counted in the round line: the 503s by their cause, the connection errors by when. */
export type ReplyCount = Exclude<ReplyKind, 'reset'> | 'reset-at-close' | 'reset';

export interface RoundAudit {
  accepted: number;
  finished: number;
  failed: number;
  cancelled: number;
  lost: number;
  duplicated: number;
  /** Cancelled items that were running at the deadline (the rest were pending or waiting to retry). */
  cancelledRunning: number;
  /** Functions still running a second after the deadline (they ignore their signal). */
  abandoned: number;
  /** Functions that returned after their signal aborted (a timeout or the deadline): not a finish. */
  late: number;
  /** Items that ran although the client never got an answer. */
  unacked: number;
  /** Sent after SIGTERM and accepted: they arrived before Nest began to close. */
  acceptedAfterSigterm: number;
  replies: Record<ReplyCount, number>;
  /** SIGTERM to exit, in ms. */
  exitMs: number | undefined;
  peakRunning: number | undefined;
  problems: string[];
}

/** The same moment seen through two pipes can arrive a little out of order. */
const ORDER_SLACK_MS = 50;
/** Nest answers 503 in milliseconds: a request that waited longer and then lost its connection hung. */
const PROMPT_MS = 1_000;

// ---- what the app wrote ---------------------------------------------------------------------------------------

interface Start {
  attempt: number;
  item: number;
}
interface Finish {
  attempt: number;
  late: boolean;
}
interface Named {
  item: number;
  id: number;
}

const LABEL = /#(\d+) "job-(\d+)"/g;
const FAILED = /Work item #(\d+) "job-(\d+)" on queue "[^"]+" failed(?: after (\d+) attempts)?: (.*)$/;
const SUMMARY = /Background work stopped in \d+ ms: .*work items: (\d+) succeeded, (\d+) failed, (\d+) cancelled \((\d+) at the shutdown deadline\)/;
const LOG_LINE = /^\[Nest\] \d+\s+- .*?\s(LOG|WARN|ERROR|DEBUG|VERBOSE|FATAL) \[([^\]]+)\] (.*)$/;
const STACK_HEAD = new RegExp(`^(${PLANNED_FAILURE}: planned failure of job-\\d+ on attempt \\d+|TimeoutError: Work item timed out after \\d+ ms)$`);
const FRAME = /^\s+at /;

function labels(text: string): Named[] {
  return [...text.matchAll(LABEL)].map((m) => ({ item: Number(m[1]), id: Number(m[2]) }));
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

interface Ledger {
  starts: Map<number, Start[]>;
  /** First attempts in the order they started (the queue's ids), for the FIFO check. */
  firstStarts: number[];
  finishes: Map<number, Finish[]>;
  failed: Map<number, (Named & { attempts: number })[]>;
  cancelled: Map<number, (Named & { running: boolean })[]>;
  abandoned: Set<number>;
  summary: { succeeded: number; failed: number; cancelled: number; atDeadline: number } | undefined;
  peakRunning: number | undefined;
}

function readLedger(facts: RoundFacts): Ledger {
  const ledger: Ledger = {
    starts: new Map(),
    firstStarts: [],
    finishes: new Map(),
    failed: new Map(),
    cancelled: new Map(),
    abandoned: new Set(),
    summary: undefined,
    peakRunning: undefined,
  };
  for (const line of facts.starts.split('\n')) {
    if (line === '') continue;
    const [id, attempt, item] = line.split(' ').map(Number) as [number, number, number];
    push(ledger.starts, id, { attempt, item });
    if (attempt === 1) ledger.firstStarts.push(item);
  }
  for (const line of facts.results.split('\n')) {
    if (line === '') continue;
    const [id, attempt, how] = line.split(' ');
    push(ledger.finishes, Number(id), { attempt: Number(attempt), late: how === 'late' });
  }
  for (const line of `${facts.stdout}\n${facts.stderr}`.split('\n')) {
    const log = LOG_LINE.exec(line);
    if (log === null) {
      const peak = /^CHAOS PEAK RUNNING (\d+)$/.exec(line);
      if (peak) ledger.peakRunning = Number(peak[1]);
      continue;
    }
    const [, level, context, message] = log as unknown as [string, string, string, string];
    if (context !== 'BackgroundWork') continue;
    const failed = level === 'ERROR' ? FAILED.exec(message) : null;
    if (failed) {
      const [, item, id, attempts] = failed;
      push(ledger.failed, Number(id), { item: Number(item), id: Number(id), attempts: attempts === undefined ? 1 : Number(attempts) });
    } else if (message.includes('cancelled at the shutdown deadline')) {
      const running = / running items? cancelled/.test(message);
      for (const named of labels(message.slice(message.indexOf('deadline')))) push(ledger.cancelled, named.id, { ...named, running });
    } else if (message.includes('after the deadline, abandoned:')) {
      for (const named of labels(message.slice(message.indexOf('abandoned:')))) ledger.abandoned.add(named.id);
    }
    const summary = SUMMARY.exec(message);
    if (summary) {
      const [succeeded, failedCount, cancelled, atDeadline] = summary.slice(1).map(Number) as [number, number, number, number];
      ledger.summary = { succeeded, failed: failedCount, cancelled, atDeadline };
    }
  }
  return ledger;
}

// ---- the audit ------------------------------------------------------------------------------------------------

/** An audit with every count at zero, the start of every round's (and the whole of an aborted round's). */
export function emptyAudit(problems: string[]): RoundAudit {
  const replies = Object.fromEntries(
    (['accepted', 'full', 'closed', 'closing', 'status', 'refused', 'reset-at-close', 'reset', 'hang', 'error'] as const).map((k) => [k, 0]),
  ) as Record<ReplyCount, number>;
  return {
    accepted: 0,
    finished: 0,
    failed: 0,
    cancelled: 0,
    lost: 0,
    duplicated: 0,
    cancelledRunning: 0,
    abandoned: 0,
    late: 0,
    unacked: 0,
    acceptedAfterSigterm: 0,
    replies,
    exitMs: undefined,
    peakRunning: undefined,
    problems,
  };
}

/**
 * The rule: an accepted item (202) ends in exactly one place, and at most once there:
 * - finished: one `done` line in the results file (its function returned before its signal aborted, which is exactly
 *   when the queue counts it succeeded), or
 * - failed: one `Work item #n "job-i" ... failed[ after k attempts]:` error line (its last attempt threw or timed out;
 *   the "failed on attempt k of n, retrying" warnings are not an end), or
 * - cancelled: named once in a "pending/running items cancelled at the shutdown deadline" warning.
 * A function that returned after its signal aborted (it ignored it) writes a `late` line: that is not a finish, and the
 * item must be accounted for by its timeout failure or its cancellation. In none of the places: lost. In more than one,
 * or twice in one, or an attempt started twice or beyond its retry policy: duplicated.
 */
export function audit(facts: RoundFacts): RoundAudit {
  const problems: string[] = [];
  const ledger = readLedger(facts);
  const result = emptyAudit(problems);
  result.abandoned = ledger.abandoned.size;
  result.peakRunning = ledger.peakRunning;

  // What the clients got.
  const byId = new Map<number, RequestRecord>();
  for (const request of facts.requests) {
    byId.set(request.spec.id, request);
    checkReply(facts, request, result);
  }

  // Where every item ended.
  const ids = new Set<number>([...ledger.starts.keys(), ...ledger.finishes.keys(), ...ledger.failed.keys(), ...ledger.cancelled.keys()]);
  for (const request of facts.requests) if (request.reply.kind === 'accepted') ids.add(request.spec.id);
  let succeededSeen = 0;
  for (const id of [...ids].toSorted((a, b) => a - b)) {
    const request = byId.get(id);
    const reply = request?.reply;
    if (request === undefined) {
      problems.push(`job-${id} ran but was never requested`);
      continue;
    }
    if (reply?.kind !== 'accepted') {
      if (reply?.kind === 'reset' || reply?.kind === 'hang' || reply?.kind === 'error') {
        result.unacked++;
      } else {
        problems.push(`job-${id} was answered ${describeReply(reply!)} but ran anyway`);
        continue;
      }
    }
    const outcome = checkItem(id, request.spec, reply?.kind === 'accepted' ? reply.item : undefined, ledger, problems, result);
    if (ledger.finishes.get(id)?.some((f) => !f.late)) succeededSeen++;
    if (reply?.kind !== 'accepted') continue;
    result.accepted++;
    if (outcome === 'lost') result.lost++;
    else if (outcome === 'duplicated') result.duplicated++;
    else result[outcome]++;
  }

  // Starts in FIFO order (first attempts; retries go back to the head of the queue).
  for (let i = 1; i < ledger.firstStarts.length; i++) {
    if (ledger.firstStarts[i]! < ledger.firstStarts[i - 1]!) {
      problems.push(`item #${ledger.firstStarts[i]} started before #${ledger.firstStarts[i - 1]}: not FIFO`);
      break;
    }
  }

  // The library's own count agrees.
  const s = ledger.summary;
  if (s === undefined) {
    problems.push('no "Background work stopped in" summary line');
  } else {
    const cancelledSeen = [...ledger.cancelled.keys()].length;
    const expected = { succeeded: succeededSeen, failed: ledger.failed.size, cancelled: cancelledSeen, atDeadline: cancelledSeen };
    if (s.succeeded !== expected.succeeded || s.failed !== expected.failed || s.cancelled !== expected.cancelled || s.atDeadline !== expected.atDeadline) {
      problems.push(`the summary line counts ${JSON.stringify(s)}, the results file and the log ${JSON.stringify(expected)}`);
    }
  }

  // How the process ended.
  if (facts.exit === undefined) {
    problems.push(`still running ${facts.exitBound} ms after SIGTERM (bound: shutdownTimeout + 1 s grace + margin): killed`);
  } else {
    result.exitMs = Math.round(facts.exit.at - facts.sigtermAt);
    if (facts.exit.code !== 0 || facts.exit.signal !== null) {
      problems.push(`exited with code ${facts.exit.code}${facts.exit.signal ? ` and signal ${facts.exit.signal}` : ''}, not 0`);
    }
    if (result.exitMs > facts.exitBound) problems.push(`exited ${result.exitMs} ms after SIGTERM, over the bound of ${facts.exitBound} ms`);
  }
  if (facts.closingAt === undefined) problems.push(`no "${MARK.closing}" line: Nest never began to close`);

  // What it printed.
  checkOutput('stdout', facts.stdout, problems);
  checkOutput('stderr', facts.stderr, problems);
  return result;
}

function describeReply(reply: Reply): string {
  switch (reply.kind) {
    case 'status':
      return `${reply.status} ${JSON.stringify(reply.body)}`;
    case 'reset':
    case 'error':
      return `${reply.kind} (${reply.code})`;
    default:
      return reply.kind;
  }
}

function checkReply(facts: RoundFacts, request: RequestRecord, result: RoundAudit): void {
  const { reply, sentAt, endedAt, spec } = request;
  const problems = result.problems;
  const at = (t: number): string => `${Math.round(t - facts.sigtermAt)} ms after SIGTERM`;
  const afterSigterm = sentAt >= facts.sigtermAt;
  // Once the driver has seen the summary line, the server closes: refusals and resets may follow.
  const serverClosing = facts.summaryAt !== undefined && endedAt >= facts.summaryAt - ORDER_SLACK_MS;
  const job = `job-${spec.id} (sent ${at(sentAt)})`;
  switch (reply.kind) {
    case 'accepted':
      result.replies.accepted++;
      if (afterSigterm) result.acceptedAfterSigterm++;
      if (facts.closingAt !== undefined && sentAt > facts.closingAt) problems.push(`${job} got 202 although Nest had begun to close`);
      return;
    case 'full':
      result.replies.full++;
      return;
    case 'closing':
    case 'closed':
      result.replies[reply.kind]++;
      // Sent just before SIGTERM, it may arrive after it; answered before it, it was refused for no reason.
      if (endedAt < facts.sigtermAt) problems.push(`${job} got 503 (${reply.kind}) ${at(endedAt)}, before SIGTERM`);
      return;
    case 'refused':
      result.replies.refused++;
      if (!serverClosing) problems.push(`${job}: connection refused ${at(endedAt)}, before the drain ended`);
      return;
    case 'reset':
      if (serverClosing && endedAt - sentAt < PROMPT_MS) {
        result.replies['reset-at-close']++;
      } else {
        result.replies.reset++;
        problems.push(`${job}: connection reset (${reply.code}) ${at(endedAt)}, ${Math.round(endedAt - sentAt)} ms after it was sent, not a 503`);
      }
      return;
    default:
      result.replies[reply.kind]++;
      problems.push(`${job}: ${describeReply(reply)} ${at(endedAt)}`);
  }
}

/** Where item `id` ended, with the problems of its ledger; `item` is the queue's id the 202 named. */
function checkItem(
  id: number,
  spec: ItemSpec,
  item: number | undefined,
  ledger: Ledger,
  problems: string[],
  result: RoundAudit,
): Outcome | 'lost' | 'duplicated' {
  const job = `job-${id}`;
  const starts = ledger.starts.get(id) ?? [];
  const finishes = ledger.finishes.get(id) ?? [];
  const done = finishes.filter((f) => !f.late);
  const late = finishes.filter((f) => f.late);
  const failed = ledger.failed.get(id) ?? [];
  const cancelled = ledger.cancelled.get(id) ?? [];
  const allowed = allowedAttempts(spec);
  let duplicated = false;
  result.late += late.length;

  // Attempts: 1, 2, ... each once, no more than the policy allows, all under the id the 202 named.
  const attempts = starts.map((s) => s.attempt);
  if (attempts.some((attempt, i) => attempt !== i + 1)) {
    problems.push(`${job}: attempts started in the order ${attempts.join(', ')}`);
    if (new Set(attempts).size < attempts.length) duplicated = true;
  }
  if (starts.length > allowed) {
    problems.push(`${job}: ${starts.length} attempts started, its retry policy allows ${allowed}`);
    duplicated = true;
  }
  const named = [...starts.map((s) => s.item), ...failed.map((f) => f.item), ...cancelled.map((c) => c.item)];
  if (item !== undefined && named.some((n) => n !== item)) problems.push(`${job}: logged under queue ids ${[...new Set(named)].join(', ')}, the 202 named #${item}`);

  const places = [done.length > 0 && 'finished', failed.length > 0 && 'failed', cancelled.length > 0 && 'cancelled'].filter(
    (p): p is Outcome => p !== false,
  );
  if (places.length === 0) {
    const ran = starts.length === 0 ? 'never started' : `started ${starts.length} attempts`;
    problems.push(`${job} lost: accepted, ${ran}, but neither finished, failed nor cancelled at the deadline${late.length ? ` (${late.length} late returns)` : ''}`);
    return 'lost';
  }
  if (places.length > 1 || done.length > 1 || failed.length > 1 || cancelled.length > 1) {
    problems.push(`${job} ended more than once: ${done.length} finishes, ${failed.length} failure lines, ${cancelled.length} cancellations`);
    duplicated = true;
  }
  if (duplicated) return 'duplicated';

  const outcome = places[0]!;
  if (outcome === 'finished') {
    if (done[0]!.attempt !== starts.length) problems.push(`${job} finished on attempt ${done[0]!.attempt} of ${starts.length} started`);
    if (done[0]!.attempt <= spec.fails) problems.push(`${job} finished on attempt ${done[0]!.attempt}, which was planned to fail`);
  } else if (outcome === 'failed') {
    // Retried per policy: a failure is final only after every allowed attempt.
    if (failed[0]!.attempts !== allowed || starts.length !== allowed) {
      problems.push(`${job} failed after ${failed[0]!.attempts} attempts (${starts.length} started), its retry policy allows ${allowed}`);
    }
    if (spec.fails === 0 && spec.timeout === undefined) problems.push(`${job} failed, but it was not planned to fail and has no timeout`);
  } else if (cancelled[0]!.running) {
    result.cancelledRunning++;
    if (starts.length === 0) problems.push(`${job} was cancelled as running at the deadline but never started`);
  } else if (starts.length > 0 && spec.retry === undefined) {
    problems.push(`${job} was cancelled as pending at the deadline after it started, but it has no retry to wait for`);
  }
  // A late return needs a signal that aborted (a timeout, or the deadline while it ran) and work that ignores it.
  if (late.length > 0 && (!spec.ignoreSignal || (spec.timeout === undefined && !(outcome === 'cancelled' && cancelled[0]!.running)))) {
    problems.push(`${job} returned after its signal aborted, but it ${spec.ignoreSignal ? 'has no timeout and was not running at the deadline' : 'honours its signal'}`);
  }
  // Work that honours its signal returns at once when it aborts: only work that ignores it can outlive the grace.
  if (ledger.abandoned.has(id) && !spec.ignoreSignal) problems.push(`${job} was abandoned at the deadline, but it honours its signal`);
  return outcome;
}

/**
 * Every line is a Nest log line or one of the app's marks. An error log is expected only for an item that failed or
 * one abandoned at the deadline; a stack only under a planned failure or a timeout. Anything else (a stack under an
 * unexpected error, an unhandled rejection, a Node warning) is a problem.
 */
function checkOutput(stream: 'stdout' | 'stderr', text: string, problems: string[]): void {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  let owner: { level: string; message: string } | undefined;
  let stack: string[] = [];
  const reported = problems.length;
  const closeStack = (): void => {
    if (stack.length === 0) return;
    // The stack of the error the line describes: `... failed: ChaosFailure: planned failure of job-7 on attempt 1`.
    const described = owner?.level === 'ERROR' ? FAILED.exec(owner.message)?.[4] : undefined;
    const expected =
      described !== undefined &&
      stack[0] === described &&
      STACK_HEAD.test(stack[0]!) &&
      stack.length > 1 &&
      stack.slice(1).every((line) => FRAME.test(line));
    if (!expected) problems.push(`${stream}: unexpected output${owner ? ` after "${owner.message.slice(0, 160)}"` : ''}:\n      ${stack.slice(0, 6).join('\n      ')}`);
    stack = [];
  };
  for (const line of lines) {
    const log = LOG_LINE.exec(line);
    if (log !== null) {
      closeStack();
      const [, level, context, message] = log as unknown as [string, string, string, string];
      owner = { level, message };
      const expectedError = context === 'BackgroundWork' && (FAILED.test(message) || message.includes('after the deadline, abandoned:'));
      if ((level === 'ERROR' || level === 'FATAL') && !expectedError) problems.push(`${stream}: unexpected ${level} [${context}] ${message}`);
      continue;
    }
    if (stream === 'stdout' && /^(READY \d+|CHAOS CLOSING|CHAOS PEAK RUNNING \d+)$/.test(line)) {
      closeStack();
      owner = undefined;
      continue;
    }
    stack.push(line);
  }
  closeStack();
  if (problems.length - reported > 10) problems.splice(reported + 10, Infinity, `${stream}: ${problems.length - reported - 10} more`);
}
