import { ConflictException, NotFoundException, ServiceUnavailableException, StreamableFile } from '@nestjs/common';
import { QueueClosedError, QueueFullError, type WorkState } from 'nestjs-background-work';
import type { RenderedFile } from './file-jobs.js';

/** Runs `enqueue`, turning "the queue is full" and "the app is draining" into 503: both mean try again later. */
export function enqueueOr503<T>(enqueue: () => T): T {
  try {
    return enqueue();
  } catch (error) {
    if (error instanceof QueueFullError || error instanceof QueueClosedError) throw new ServiceUnavailableException(error.message);
    throw error;
  }
}

/** The finished file of a job as a response: 404 for an unknown (or forgotten) job, 409 while it has no file. */
export function fileResponse(what: string, id: string, { file, state }: { file?: RenderedFile; state?: WorkState }, filename: string): StreamableFile {
  if (state === undefined) throw new NotFoundException(`No recent ${what} #${id}`);
  if (file === undefined) throw new ConflictException(`${what} #${id} is ${state}: its file can be fetched once it has succeeded`);
  return new StreamableFile(file.bytes, {
    type: file.contentType,
    length: file.bytes.byteLength,
    disposition: `inline; filename="${filename}"`,
  });
}
