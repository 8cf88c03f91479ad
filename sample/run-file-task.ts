import type { WorkerThreads } from 'nestjs-background-work';
import { MessageChannel, receiveMessageOnPort, type Transferable } from 'node:worker_threads';
import type { FileTaskInput, FileTaskMessage } from './tasks/task-port.js';

/** A finished file: what `GET /thumbnails/:id/file` and `GET /reports/:id/file` serve. */
export interface RenderedFile {
  bytes: Buffer;
  contentType: string;
}

export interface FileTaskOptions {
  /** The work item's signal: a timeout, a cancel or the shutdown deadline terminates the task. */
  signal: AbortSignal;
  /** Buffers of the input to move to the thread instead of copying them. */
  transfer?: Transferable[];
  /** Receives the task's progress: pass the work item's `progress`. */
  progress?: (value: number) => void;
}

/**
 * Runs a file-making task (see tasks/task-port.ts) on a worker thread, with a MessagePort on which it sends its
 * progress and its file. Resolves with the task's return value and the file, whose bytes were moved, not copied.
 */
export async function runFileTask<I extends FileTaskInput, O>(
  threads: WorkerThreads,
  task: URL,
  input: Omit<I, 'port'>,
  { signal, transfer = [], progress }: FileTaskOptions,
): Promise<{ output: O; file: RenderedFile }> {
  const { port1, port2 } = new MessageChannel();
  let file: RenderedFile | undefined;
  const receive = (message: FileTaskMessage): void => {
    if (message.type === 'progress') progress?.(message.value);
    else file = { bytes: Buffer.from(message.bytes), contentType: message.contentType };
  };
  port1.on('message', receive);
  try {
    const output = await threads.run<I, O>(task, { ...input, port: port2 } as I, { signal, transfer: [port2, ...transfer] });
    // The task sent its messages before it returned, but 'message' events fire later: take the ones still queued.
    for (let next = receiveMessageOnPort(port1); next !== undefined; next = receiveMessageOnPort(port1)) receive(next.message as FileTaskMessage);
    if (file === undefined) throw new Error(`The task ${task.pathname} returned without sending its file`);
    return { output, file };
  } finally {
    port1.close();
  }
}
