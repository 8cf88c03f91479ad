import { spawn, type ChildProcess } from 'node:child_process';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** performance.now() when the process exited. */
  at: number;
}

/** The compiled chaos app in a child process: its stdout and stderr kept apart, and when chosen lines first appeared. */
export class ChildApp {
  stdout = '';
  stderr = '';
  /** performance.now() when each watched pattern was first seen. */
  readonly seen = new Map<string, number>();
  readonly exit: Promise<ChildExit>;
  private readonly child: ChildProcess;
  private readonly watchers: { key: string; pattern: RegExp }[] = [];
  private readonly listeners = new Set<() => void>();
  private exited: ChildExit | undefined;

  constructor(file: string, env: Record<string, string>) {
    this.child = spawn(process.execPath, [file], {
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8');
    this.child.stderr!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => this.collect('stdout', chunk));
    this.child.stderr!.on('data', (chunk: string) => this.collect('stderr', chunk));
    this.exit = new Promise((resolve) => {
      let at = 0;
      this.child.once('exit', () => {
        at = performance.now();
        for (const listener of this.listeners) listener();
      });
      // 'close', not 'exit': the pipes have been read to their end.
      this.child.once('close', (code, signal) => {
        this.exited = { code, signal, at };
        for (const listener of this.listeners) listener();
        resolve(this.exited);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** True once the process has exited (its output may still be draining). */
  get gone(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Records the time `pattern` first shows in the output under `key`. */
  watch(key: string, pattern: RegExp): void {
    this.watchers.push({ key, pattern });
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** SIGKILL, for a process that outlived its bound (or clean-up). */
  async kill(): Promise<void> {
    if (!this.gone) this.child.kill('SIGKILL');
    await this.exit;
  }

  /** The first match of `pattern` in stdout; rejects when the process ends or `timeout` passes first. */
  waitFor(pattern: RegExp, timeout: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(() => reject(new Error(`did not print ${pattern} within ${timeout} ms`))), timeout);
      const check = (): void => {
        const match = this.stdout.match(pattern);
        if (match) done(() => resolve(match));
        else if (this.exited) done(() => reject(new Error(`exited (code ${this.exited?.code}) before printing ${pattern}`)));
      };
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        settle();
      };
      this.listeners.add(check);
      check();
    });
  }

  private collect(stream: 'stdout' | 'stderr', chunk: string): void {
    const from = Math.max(0, this[stream].length - 500); // a line may straddle two chunks
    this[stream] += chunk;
    const now = performance.now();
    const fresh = this[stream].slice(from);
    for (const { key, pattern } of this.watchers) {
      if (!this.seen.has(key) && pattern.test(fresh)) this.seen.set(key, now);
    }
    for (const listener of this.listeners) listener();
  }
}
