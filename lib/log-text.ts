/** How log lines name things: counts, errors and reasons. */

/** `1 item`, `3 items`: counts in log lines. */
export function count(n: number, noun: string): string {
  return `${n} ${n === 1 ? noun : `${noun}s`}`;
}

/** One line for a log: `TypeError: boom`, or what was thrown when it is not an Error. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  let text: string;
  try {
    text = typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error));
  } catch {
    text = String(error);
  }
  return `a non-Error was thrown: ${text}`;
}

export function errorStack(error: unknown): string | undefined {
  return error instanceof Error ? error.stack : undefined;
}

/** A cancellation or stop reason: an Error as `name: message`, anything else as itself. */
export function describeReason(reason: unknown): string {
  return reason instanceof Error ? describeError(reason) : String(reason);
}
