/**
 * The benchmark table: every scenario id, its unit, which libraries it compares and with what sizes. The ids and
 * units are the ones issue 4 fixes; the runner reads this table and nothing else.
 */
import { DURABLE_LIBS, OUR_STORES } from './durable.js';
import { POOL_LIBS } from './pools.js';
import { OURS, QUEUE_LIBS } from './queues.js';

export interface Scenario {
  id: string;
  unit: string;
  lowerIsBetter: boolean;
  /** The scenario's script, relative to the compiled bench directory. */
  file: string;
  libs: readonly string[];
  full: Record<string, unknown>;
  /** Overrides of `full` for --quick: small enough that the whole quick run takes under a minute. */
  quick: Record<string, unknown>;
  /** Node flags of the child process (--expose-gc where the scenario collects garbage before measuring). */
  flags: readonly string[];
  /** Milliseconds after which a child is killed and the run counted as failed. */
  timeout: number;
}

const GC = ['--expose-gc'];
const WITH_FLOOR = [...QUEUE_LIBS, 'floor'] as const;

const dispatch = (concurrency: number): Scenario => ({
  id: `dispatch-c${concurrency}`,
  unit: 'ns/item',
  lowerIsBetter: true,
  file: 'scenarios/dispatch.js',
  libs: WITH_FLOOR,
  full: { items: 1_000_000, warmup: 200_000, concurrency, inFlight: 1_000 },
  quick: { items: 30_000, warmup: 5_000 },
  flags: GC,
  timeout: 120_000,
});

const http = (mode: 'idle' | 'inline' | 'threads'): Scenario => ({
  id: `http-p99-${mode}`,
  unit: 'ms',
  lowerIsBetter: true,
  file: 'scenarios/http-p99.js',
  libs: [OURS],
  // 200 probes/s for 10 s: p99 is the 20th-slowest of 2,000. One connection: autocannon's rate limit sends each
  // second's quota back-to-back on every connection, so with several connections the probes queue behind each
  // other and p99 measures the probe's own bursts (3 ms p50 on an idle app with 10 connections, 0.25 ms with one).
  // 20 jobs/s of 50 ms is one core's worth of CPU: the 2 threads absorb it, the main thread alone cannot.
  full: { mode, rate: 200, connections: 1, warmup: 2, duration: 10, jobRate: 20, jobMs: 50, threads: 2 },
  quick: { warmup: 0, duration: 1 },
  flags: [],
  timeout: 60_000,
});

/**
 * The durable-* scenarios: ours on memoryStore and on sqliteStore per driver, against the same driver with no
 * library (`sqlite-raw/<driver>`). node:sqlite is listed too: its processes skip on a Node without it.
 */
const enqueue = (mode: 'single' | 'grouped'): Scenario => ({
  id: `durable-enqueue-${mode}`,
  unit: 'jobs/s',
  lowerIsBetter: false,
  file: 'scenarios/durable-enqueue.js',
  libs: DURABLE_LIBS,
  // single: one commit per job, so fewer jobs; grouped: 1000 enqueues per turn of the event loop.
  full: mode === 'single' ? { mode, jobs: 20_000, warmup: 2_000, batch: 1 } : { mode, jobs: 200_000, warmup: 20_000, batch: 1_000 },
  quick: mode === 'single' ? { jobs: 500, warmup: 100 } : { jobs: 5_000, warmup: 1_000 },
  flags: GC,
  timeout: 180_000,
});

/** bullmqStore against BullMQ with no library, on the local Redis (skipped when none answers). */
const BULLMQ_LIBS = [`${OURS}/bullmq`, 'bullmq-raw/bullmq'] as const;
const bullmq = (mode: 'overhead' | 'enqueue'): Scenario => ({
  id: `bullmq-${mode}`,
  unit: 'jobs/s',
  lowerIsBetter: false,
  file: 'scenarios/bullmq.js',
  libs: BULLMQ_LIBS,
  full: { mode, jobs: 20_000, warmup: 2_000, concurrency: 16, batch: 100 },
  quick: { jobs: 1_000, warmup: 200 },
  flags: [],
  timeout: 180_000,
});

export const SCENARIOS: readonly Scenario[] = [
  dispatch(1),
  dispatch(16),
  dispatch(100),
  {
    id: 'backlog-1m-bytes',
    unit: 'bytes/item',
    lowerIsBetter: true,
    file: 'scenarios/backlog-bytes.js',
    libs: QUEUE_LIBS,
    full: { items: 1_000_000 },
    quick: { items: 30_000 },
    flags: GC,
    timeout: 120_000,
  },
  {
    id: 'backlog-1m-drain',
    unit: 'ns/item',
    lowerIsBetter: true,
    file: 'scenarios/backlog-drain.js',
    libs: QUEUE_LIBS,
    full: { items: 1_000_000, warmup: 200_000 },
    quick: { items: 30_000, warmup: 5_000 },
    flags: GC,
    timeout: 120_000,
  },
  {
    id: 'io-1ms-efficiency',
    unit: 'ratio',
    lowerIsBetter: false,
    file: 'scenarios/io-efficiency.js',
    libs: WITH_FLOOR,
    full: { items: 100_000, warmup: 10_000, concurrency: 100 },
    quick: { items: 3_000, warmup: 500 },
    flags: GC,
    timeout: 120_000,
  },
  {
    id: 'threads-serial',
    unit: 'µs/task',
    lowerIsBetter: true,
    file: 'scenarios/threads-serial.js',
    libs: POOL_LIBS,
    full: { tasks: 20_000, warmup: 2_000, threads: 2 },
    quick: { tasks: 500, warmup: 100 },
    flags: GC,
    timeout: 120_000,
  },
  {
    id: 'threads-saturated',
    unit: 'tasks/s',
    lowerIsBetter: false,
    file: 'scenarios/threads-saturated.js',
    libs: POOL_LIBS,
    full: { tasks: 200_000, warmup: 20_000, threads: 2, inFlight: 1_000 },
    quick: { tasks: 3_000, warmup: 500 },
    flags: GC,
    timeout: 120_000,
  },
  {
    id: 'threads-cpu',
    unit: 'tasks/s',
    lowerIsBetter: false,
    file: 'scenarios/threads-cpu.js',
    libs: [OURS, 'piscina'],
    full: { tasks: 20_000, warmup: 200, threads: 2, inFlight: 1_000, taskSize: 5_000 },
    quick: { tasks: 200, warmup: 20 },
    flags: GC,
    timeout: 300_000,
  },
  http('idle'),
  http('inline'),
  http('threads'),
  {
    id: 'drain-overhead',
    unit: 'ratio',
    lowerIsBetter: true,
    file: 'scenarios/drain-overhead.js',
    libs: [OURS, 'floor'],
    full: { items: 10_000, warmup: 1_000, concurrency: 100 },
    quick: { items: 1_000, warmup: 200 },
    flags: GC,
    timeout: 60_000,
  },
  {
    id: 'rate-limit-accuracy',
    unit: 'ratio',
    lowerIsBetter: false,
    file: 'scenarios/rate-limit-accuracy.js',
    libs: [OURS, 'p-queue'],
    // 100 starts per second (an email provider's kind of limit) for 4 s; quick: 2 windows.
    full: { max: 100, per: 1_000, windows: 4 },
    quick: { windows: 2 },
    flags: [],
    timeout: 60_000,
  },
  {
    id: 'startup-100-services',
    unit: 'ms',
    lowerIsBetter: true,
    file: 'scenarios/startup.js',
    libs: [OURS],
    full: { services: 100, iterations: 15, warmup: 3 },
    quick: { iterations: 2, warmup: 1 },
    flags: [],
    timeout: 120_000,
  },
  enqueue('single'),
  enqueue('grouped'),
  {
    id: 'durable-claim-complete',
    unit: 'jobs/s',
    lowerIsBetter: false,
    file: 'scenarios/durable-claim-complete.js',
    libs: DURABLE_LIBS,
    full: { jobs: 100_000, warmup: 10_000, concurrency: 100, batch: 1_000 },
    quick: { jobs: 3_000, warmup: 500 },
    flags: GC,
    timeout: 180_000,
  },
  {
    id: 'durable-e2e',
    unit: 'ms (p50)',
    lowerIsBetter: true,
    file: 'scenarios/durable-e2e.js',
    libs: DURABLE_LIBS,
    full: { jobs: 20_000, warmup: 2_000, lanes: 16, concurrency: 16 },
    quick: { jobs: 500, warmup: 100 },
    flags: GC,
    timeout: 180_000,
  },
  {
    id: 'durable-recovery-ms',
    unit: 'ms',
    lowerIsBetter: true,
    file: 'scenarios/durable-recovery.js',
    libs: DURABLE_LIBS,
    // 100 jobs running in a process that is SIGKILLed, then a fresh application on the same file.
    full: { jobs: 100 },
    quick: {},
    flags: [],
    timeout: 60_000,
  },
  {
    id: 'durable-memory-growth',
    unit: 'bytes/job',
    lowerIsBetter: true,
    file: 'scenarios/durable-memory.js',
    libs: OUR_STORES,
    full: { jobs: 1_000_000, batch: 1_000, window: 10_000, concurrency: 100 },
    quick: { jobs: 5_000 },
    flags: GC,
    timeout: 300_000,
  },
  bullmq('overhead'),
  bullmq('enqueue'),
];
