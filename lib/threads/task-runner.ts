/**
 * The module Piscina loads in every worker thread. It imports the task file of each call (once per file and export),
 * runs it, and sends a failure back in a form that keeps the task's error name, stack and properties.
 */
import { register } from 'node:module';
import type { MessagePort } from 'node:worker_threads';
import { move } from 'piscina';
import { describe } from '../validation.js';
import type { TaskContext } from './task-context.js';
import { TYPESCRIPT_HOOKS_URL, markTypescriptHooksRegistered, typescriptHooksRegistered } from './typescript-hooks.js';
import { serializeTaskError } from './task-error.js';

/** What the caller thread posts: the task file's URL, the export to call, and its input. */
export interface TaskMessage {
  file: string;
  name: string;
  input: unknown;
  /** Where `progress()` posts, when the caller asked for progress. */
  port?: MessagePort;
}

type TaskFunction = (input: unknown, context: TaskContext) => unknown;

const ignoreProgress = (value: number): void => {
  checkProgress(value);
};

function checkProgress(value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`progress() takes a finite number, got ${describe(value)}`);
}

function moveBytes(value: ArrayBuffer | ArrayBufferView): never {
  if (value instanceof ArrayBuffer) return move(value) as never;
  if (!ArrayBuffer.isView(value)) throw new TypeError('move() takes an ArrayBuffer or a view of one (a Buffer, a Uint8Array)');
  return move(new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice()) as never;
}

/** Contexts without a port are all alike: one is enough. */
const QUIET: TaskContext = { progress: ignoreProgress, move: moveBytes };

function contextFor(port: MessagePort | undefined): TaskContext {
  if (port === undefined) return QUIET;
  return {
    progress: (value: number) => {
      checkProgress(value);
      port.postMessage(value);
    },
    move: moveBytes,
  };
}
const handlers = new Map<string, Promise<TaskFunction>>();

async function loadHandler(file: string, name: string): Promise<TaskFunction> {
  if (file.endsWith('.ts') && !typescriptHooksRegistered()) {
    register(TYPESCRIPT_HOOKS_URL);
    markTypescriptHooksRegistered();
  }
  const module = (await import(file)) as Record<string, unknown>;
  // An ES module's export, or the same export of a CommonJS module: import() puts its whole `exports` under
  // `default`, so TypeScript's `exports.default = fn` is at `module.default.default`.
  let handler = module[name];
  const commonJs = module.default as Record<string, unknown> | undefined;
  if (typeof handler !== 'function' && (typeof commonJs === 'object' || typeof commonJs === 'function') && commonJs !== null) {
    handler = commonJs[name];
  }
  if (typeof handler !== 'function') {
    throw new TypeError(`Task file ${file} has no ${name === 'default' ? 'default export' : `export named "${name}"`} that is a function`);
  }
  return handler as TaskFunction;
}

export default async function runTask(message: TaskMessage): Promise<unknown> {
  const key = `${message.name}@${message.file}`;
  let handler = handlers.get(key);
  if (handler === undefined) {
    handler = loadHandler(message.file, message.name);
    handlers.set(key, handler);
    handler.catch(() => handlers.delete(key));
  }
  try {
    return await (await handler)(message.input, contextFor(message.port));
  } catch (error) {
    throw serializeTaskError(error);
  } finally {
    message.port?.close();
  }
}
