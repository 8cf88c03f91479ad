/**
 * The thread side of a task that makes a file. A task's return value comes back to the app as a structured-clone
 * copy, made on the event loop it is meant to spare, and a task cannot call the queue's `progress()`. So the app gives
 * the task a MessagePort (see ../run-file-task.ts), and the task sends on it its progress and, once, its file, whose
 * bytes are transferred (moved) rather than copied.
 */
import type { MessagePort } from 'node:worker_threads';

/** What a task sends on its port. */
export type FileTaskMessage =
  | { type: 'progress'; value: number }
  | { type: 'file'; bytes: ArrayBuffer; contentType: string };

/** Every file task gets its input plus the port to send on. */
export interface FileTaskInput {
  port: MessagePort;
}

/** Reports progress, a fraction from 0 to 1 of the work done. */
export function sendProgress(port: MessagePort, value: number): void {
  port.postMessage({ type: 'progress', value } satisfies FileTaskMessage);
}

/**
 * Sends the finished file. Its bytes are copied once, here on the worker thread, into an ArrayBuffer of their own,
 * which is then moved to the app: native buffers (sharp's output) and slices of Node's buffer pool cannot be
 * transferred as they are.
 */
export function sendFile(port: MessagePort, bytes: Uint8Array, contentType: string): void {
  const own = new Uint8Array(bytes).buffer;
  port.postMessage({ type: 'file', bytes: own, contentType } satisfies FileTaskMessage, [own]);
}
