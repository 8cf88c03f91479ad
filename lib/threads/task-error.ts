/**
 * Errors cross the thread boundary as plain objects: the structured clone of an Error keeps only the built-in
 * names and drops own properties such as `code`. The runner sends this shape and the caller rebuilds an Error
 * with the task's name, message, stack and properties.
 */
const MARK = '__nestjsBackgroundWorkTaskError';

interface SerializedError {
  [MARK]: true;
  name: string;
  message: string;
  stack: string | undefined;
  props: Record<string, unknown>;
  cause?: unknown;
}

export function serializeTaskError(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error)) return error;
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    if (key === 'cause') continue;
    try {
      props[key] = structuredClone((error as unknown as Record<string, unknown>)[key]);
    } catch {
      // not cloneable: leave it behind rather than fail the whole error
    }
  }
  const serialized: SerializedError = { [MARK]: true, name: error.name, message: error.message, stack: error.stack, props };
  if (error.cause !== undefined && depth < 3) serialized.cause = serializeTaskError(error.cause, depth + 1);
  return serialized;
}

export function deserializeTaskError(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || !(MARK in value)) return value;
  const s = value as SerializedError;
  const error = new Error(s.message, s.cause === undefined ? undefined : { cause: deserializeTaskError(s.cause) });
  Object.defineProperty(error, 'name', { value: s.name, configurable: true, writable: true });
  Object.assign(error, s.props);
  if (s.stack !== undefined) error.stack = s.stack;
  return error;
}
