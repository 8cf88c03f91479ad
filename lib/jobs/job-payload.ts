import { describe } from '../validation.js';

/** Payloads over this many bytes of JSON are refused (a store row, a Redis value, a log line stay small). */
export const MAX_PAYLOAD_BYTES = 1_048_576;

/**
 * JSON text of a payload that survives JSON unchanged, or a TypeError naming the first path where it would not
 * (`payload.user.createdAt: a Date; pass toISOString()`), or a RangeError past `MAX_PAYLOAD_BYTES`. A job runs
 * later, maybe in another process: what the handler gets must be what the caller gave.
 */
export function serializePayload(path: string, payload: unknown): string {
  // The quick walk says yes to plain JSON without building paths; anything else gets the careful walk, which names it.
  if (!isPlainJson(payload, 0)) checkJson(path, payload, new Set());
  const text = JSON.stringify(payload);
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_PAYLOAD_BYTES) {
    throw new RangeError(`${path} is ${bytes} bytes of JSON, over the limit of ${MAX_PAYLOAD_BYTES}; store large data elsewhere and pass its id`);
  }
  return text;
}

/** Past this depth the quick walk gives up (a cycle, or a very deep payload) and leaves it to the careful walk. */
const QUICK_DEPTH = 64;

/** True when `value` survives JSON unchanged; false when it may not (the careful walk then decides and names the path). */
function isPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth > QUICK_DEPTH) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!(i in value) || !isPlainJson(value[i], depth + 1)) return false;
    return true;
  }
  const prototype = Object.getPrototypeOf(value);
  if ((prototype !== Object.prototype && prototype !== null) || typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
  for (const key in value) if (!isPlainJson((value as Record<string, unknown>)[key], depth + 1)) return false;
  return Object.getOwnPropertySymbols(value).length === 0;
}

function checkJson(path: string, value: unknown, ancestors: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${path}: ${value}; JSON turns it into null`);
      return;
    case 'undefined':
      throw new TypeError(`${path}: undefined; JSON drops it (use null, or leave the key out)`);
    case 'function':
      throw new TypeError(`${path}: a function; a job's payload is data, and its handler is the code`);
    case 'symbol':
      throw new TypeError(`${path}: a symbol; JSON drops it`);
    case 'bigint':
      throw new TypeError(`${path}: a BigInt; JSON cannot hold it (pass it as a string)`);
  }
  if (value === null) return;
  const object = value as object;
  if (ancestors.has(object)) throw new TypeError(`${path}: a cycle (it contains itself); JSON cannot hold it`);
  if (Array.isArray(object)) {
    ancestors.add(object);
    for (let i = 0; i < object.length; i++) {
      if (!(i in object)) throw new TypeError(`${path}[${i}]: a hole in an array; JSON turns it into null`);
      checkJson(`${path}[${i}]`, object[i], ancestors);
    }
    ancestors.delete(object);
    return;
  }
  if (object instanceof Date) throw new TypeError(`${path}: a Date; pass toISOString()`);
  if (object instanceof Map) throw new TypeError(`${path}: a Map; pass Object.fromEntries(map)`);
  if (object instanceof Set) throw new TypeError(`${path}: a Set; pass [...set]`);
  const prototype = Object.getPrototypeOf(object);
  if (prototype !== Object.prototype && prototype !== null) {
    throw new TypeError(`${path}: ${describe(object)}; pass a plain object (JSON keeps neither its class nor its methods)`);
  }
  if (typeof (object as { toJSON?: unknown }).toJSON === 'function') {
    throw new TypeError(`${path}: an object with toJSON(); pass what toJSON() returns`);
  }
  ancestors.add(object);
  for (const key of Object.keys(object)) {
    const child = /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
    checkJson(child, (object as Record<string, unknown>)[key], ancestors);
  }
  for (const symbol of Object.getOwnPropertySymbols(object)) {
    if (Object.prototype.propertyIsEnumerable.call(object, symbol)) throw new TypeError(`${path}[${String(symbol)}]: a symbol key; JSON drops it`);
  }
  ancestors.delete(object);
}
