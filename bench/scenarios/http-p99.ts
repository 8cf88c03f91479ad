/**
 * http-p99-idle, http-p99-inline, http-p99-threads (ms): the p99 latency of GET /health on a Nest HTTP app under a
 * constant request rate from autocannon, while POST /jobs is sent a steady stream of 50 ms CPU jobs (none for idle).
 * This process is the load generator; the app runs in a process of its own (apps/http-app.ts), so that the CPU
 * jobs block the app's event loop and never the clock that measures it.
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { main, percentile, report, scenarioArgs } from '../measure.js';

interface Params {
  mode: 'idle' | 'inline' | 'threads';
  /** /health requests per second, over `connections` connections. */
  rate: number;
  connections: number;
  /** Seconds of load before measuring (discarded), then seconds measured. */
  warmup: number;
  duration: number;
  /** CPU jobs per second and the length of each. */
  jobRate: number;
  jobMs: number;
  threads: number;
}

const APP = fileURLToPath(new URL('../apps/http-app.js', import.meta.url));

/** Starts the app and resolves with its port once it listens. */
function startApp(params: Params): Promise<{ app: ChildProcess; port: number }> {
  const app = spawn(process.execPath, [APP], {
    env: { ...process.env, BENCH_HTTP_MODE: params.mode, BENCH_JOB_MS: String(params.jobMs), BENCH_THREADS: String(params.threads) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    app.once('exit', (code) => reject(new Error(`the app exited with ${code} before listening`)));
    createInterface({ input: app.stdout! }).on('line', (line) => {
      const match = /^LISTENING (\d+)$/.exec(line);
      if (match) resolve({ app, port: Number(match[1]) });
    });
  });
}

/**
 * Sends POST /jobs at a steady `rate` per second. Not autocannon: its rate limit sends each second's quota in a
 * burst at the start of the second, and jobs arriving in bursts would measure the bursts rather than the jobs.
 */
function flood(port: number, rate: number): { stop(): void; sent(): number } {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  let sent = 0;
  let stopped = false;
  const timer = setInterval(() => {
    sent++;
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/jobs', agent }, (res) => res.resume());
    req.on('error', (error) => {
      if (!stopped) throw error;
    });
    req.end();
  }, 1000 / rate);
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
      agent.destroy();
    },
    sent: () => sent,
  };
}

/** Probes /health for `seconds` and returns every successful response's latency in ms. */
async function probe(port: number, params: Params, seconds: number): Promise<number[]> {
  const latencies: number[] = [];
  const instance = autocannon({
    url: `http://127.0.0.1:${port}/health`,
    connections: params.connections,
    overallRate: params.rate,
    duration: seconds,
  });
  // Latencies from the per-response events, not autocannon's summary: its histogram has 1 ms resolution (p99 of an
  // idle app would read 1 or 2), and its coordinated-omission correction assumes one request per millisecond.
  instance.on('response', (_client, statusCode, _bytes, ms) => {
    if (statusCode === 200) latencies.push(ms);
  });
  const result = await instance;
  if (result.errors > 0 || result.timeouts > 0 || result.non2xx > 0) {
    throw new Error(`/health failed: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`);
  }
  return latencies;
}

main(async () => {
  const { params } = scenarioArgs<Params>();
  const { app, port } = await startApp(params);
  try {
    const jobs = params.mode === 'idle' ? undefined : flood(port, params.jobRate);
    // The warm-up lets the pool start its threads and the job stream reach a steady state (none in --quick: with a
    // rate, autocannon runs whole seconds, and a second per run is more than the quick mode can spare).
    if (params.warmup > 0) await probe(port, params, params.warmup);
    const latencies = await probe(port, params, params.duration);
    jobs?.stop();
    report(percentile(latencies, 0.99), {
      p50: percentile(latencies, 0.5),
      max: percentile(latencies, 1),
      samples: latencies.length,
      jobs: jobs?.sent() ?? 0,
    });
  } finally {
    // The app is ours to end; SIGKILL, as its shutdown would drain the job backlog first, which is not measured here.
    app.kill('SIGKILL');
  }
});
