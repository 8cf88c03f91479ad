import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';

/** Where the globalSetup compiles test/fixtures/*.ts. */
const FIXTURES = new URL('../../.test-build/fixtures/', import.meta.url);
const live = new Set<FixtureProcess>();

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Milliseconds from the first signal this test sent (or from `since`) to the process's exit. */
  ms: number;
}

/** A compiled fixture app in a real child process, with its stdout and stderr collected into one string. */
export class FixtureProcess {
  output = '';
  private readonly child: ChildProcess;
  private readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  private firstSignalAt: number | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(fixture: string, env: Record<string, string> = {}) {
    const file = fileURLToPath(new URL(`${fixture}.js`, FIXTURES));
    this.child = spawn(process.execPath, [file], {
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer): void => {
      this.output += chunk.toString();
      for (const listener of this.listeners) listener();
    };
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    this.exit = new Promise((resolve) => {
      // 'close' (not 'exit'): the output pipes are read to their end.
      let at = 0;
      this.child.once('exit', () => (at = performance.now()));
      this.child.once('close', (code, signal) => {
        live.delete(this);
        for (const listener of this.listeners) listener();
        resolve({ code, signal, at });
      });
    });
    live.add(this);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends a real signal; the first one starts the clock that `exited()` reads. */
  signal(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.firstSignalAt ??= performance.now();
    this.child.kill(signal);
  }

  /** Resolves with the first match of `pattern` in the output; rejects when the process exits or `timeout` passes first. */
  waitFor(pattern: RegExp, timeout = 20_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const match = this.output.match(pattern);
        if (match) finish(() => resolve(match));
        else if (!this.running && !live.has(this)) finish(() => reject(this.failure(`exited before printing ${pattern}`)));
      };
      const timer = setTimeout(() => finish(() => reject(this.failure(`did not print ${pattern} within ${timeout} ms`))), timeout);
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        settle();
      };
      this.listeners.add(check);
      check();
    });
  }

  /** How many times `pattern` (global) matches the output. */
  count(pattern: RegExp): number {
    return this.output.match(pattern)?.length ?? 0;
  }

  /** Waits for the process to end, at most `timeout` ms (then rejects: a hang is a failure, not a test timeout). */
  async exited(timeout: number, since?: number): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const tooLate = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.failure(`still running ${timeout} ms later`)), timeout);
    });
    try {
      const { code, signal, at } = await Promise.race([this.exit, tooLate]);
      const from = since ?? this.firstSignalAt ?? at;
      return { code, signal, ms: Math.round(at - from) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL, for clean-up. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exit;
  }

  private failure(what: string): Error {
    return new Error(`fixture process ${this.child.pid} ${what}; its output:\n${this.output}`);
  }
}

/** Kills every fixture process still running: call from afterEach. */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.kill()));
}

/** A JSON request over a connection of its own (no keep-alive socket left in the test process). */
export function httpJson(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Starts an HTTP fixture and returns it with the port it printed in `READY <port>`. */
export async function startHttpFixture(fixture: string, env: Record<string, string> = {}): Promise<{ app: FixtureProcess; port: number }> {
  const app = new FixtureProcess(fixture, env);
  const [, port] = await app.waitFor(/^READY (\d+)$/m);
  return { app, port: Number(port) };
}
