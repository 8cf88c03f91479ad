/**
 * Argument checks shared by the module options and the public calls. Each throws at the call site with the
 * option's path and the value it got, so a mistake never turns into a crash somewhere later.
 */

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return `a function`;
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return 'an array';
  const ctor = (value as object).constructor?.name;
  return ctor && ctor !== 'Object' ? `an instance of ${ctor}` : 'an object';
}

interface NumberRule {
  /** Smallest allowed value. */
  min: number;
  /** Whether `Infinity` is allowed (as "no limit"). */
  infinity?: boolean;
  /** Largest allowed finite value. */
  max?: number;
  /** Whether fractions are allowed. */
  fraction?: boolean;
}

/** The longest delay `setTimeout` honours; a longer one fires after 1 ms with only a warning. */
export const MAX_TIMER_DELAY = 2_147_483_647;

export function checkNumber(path: string, value: unknown, rule: NumberRule): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${path} must be a number, got ${describe(value)}`);
  }
  if (value === Infinity && rule.infinity) return value;
  const what = rule.fraction ? 'a finite number' : 'an integer';
  const max = rule.max ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isFinite(value) || (!rule.fraction && !Number.isInteger(value)) || value < rule.min || value > max) {
    const range = rule.max === undefined ? `>= ${rule.min}` : `from ${rule.min} to ${rule.max}`;
    throw new RangeError(`${path} must be ${what} ${range}${rule.infinity ? ' or Infinity' : ''}, got ${describe(value)}`);
  }
  return value;
}

export function checkBoolean(path: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${path} must be a boolean, got ${describe(value)}`);
  return value;
}

export function checkOneOf<T extends string>(path: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    const list = allowed.map((a) => `'${a}'`).join(' or ');
    const error = typeof value === 'string' ? RangeError : TypeError;
    throw new error(`${path} must be ${list}, got ${describe(value)}`);
  }
  return value as T;
}

export function checkString(path: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${path} must be a non-empty string, got ${describe(value)}`);
  }
  return value;
}

export function checkFunction(path: string, value: unknown): void {
  if (typeof value !== 'function') throw new TypeError(`${path} must be a function, got ${describe(value)}`);
}

export function checkSignal(path: string, value: unknown): AbortSignal {
  if (!(value instanceof AbortSignal)) throw new TypeError(`${path} must be an AbortSignal, got ${describe(value)}`);
  return value;
}

/** A plain object whose keys are all known: a misspelt option is an error, not a silent default. */
export function checkObject(path: string, value: unknown, keys?: readonly string[]): Record<string, unknown> {
  // Plain objects only: an AbortSignal or a Map passed where options go has no own keys and would pass unnoticed.
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${path} must be an object, got ${describe(value)}`);
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    throw new TypeError(`${path} must be a plain object, got ${describe(value)}`);
  }
  for (const key of keys === undefined ? [] : Object.keys(value as object)) {
    if (!keys!.includes(key)) {
      throw new TypeError(`${path} has an unknown option "${key}"; known options are ${keys!.join(', ')}`);
    }
  }
  return value as Record<string, unknown>;
}
