import { BadRequestException, Injectable } from '@nestjs/common';
import { BackgroundQueue, InjectQueue, WorkerThreads, type WorkItem } from 'nestjs-background-work';
import { fileURLToPath } from 'node:url';
// Loaded on the main thread as well, not only by the task: on glibc Linux sharp's shared libraries must stay loaded
// while worker threads come and go (see sharp's "worker threads" notes). Here it also checks uploads up front.
import sharp, { type Metadata } from 'sharp';
import { FileJobs, type FileJobView } from './file-jobs.js';
import type { ThumbnailInput } from './tasks/thumbnail.task.js';
import type { ThumbnailRequest } from './thumbnail-request.js';

/**
 * The task file, next to this one. Built, it is tasks/thumbnail.task.js; under Vitest only the .ts exists, and
 * WorkerThreads falls back to it.
 */
const THUMBNAIL_TASK = new URL('./tasks/thumbnail.task.js', import.meta.url);
/** The image resized when the request has no body; nest-cli.json copies it next to the built app. */
export const SAMPLE_IMAGE = fileURLToPath(new URL('./assets/sample.jpg', import.meta.url));
/** Uploads with more pixels than this are refused (a small PNG can decode to gigabytes). */
const MAX_PIXELS = 50_000_000;

/** Resizes images on the `cpu` queue, each on a worker thread, and keeps the recent results. */
@Injectable()
export class ThumbnailsService {
  private readonly jobs = new FileJobs('thumbnails', { jobs: 500, bytes: 64 * 1024 * 1024 });

  constructor(
    @InjectQueue('cpu') private readonly queue: BackgroundQueue,
    private readonly threads: WorkerThreads,
  ) {}

  /**
   * Reads only the header of an upload (on libuv's pool, not the event loop) so that a file that is not an image, or
   * is too large, gets a 400 at once instead of a failed job later.
   */
  async check(image: Buffer): Promise<void> {
    let metadata: Metadata;
    try {
      metadata = await sharp(image).metadata();
    } catch (error) {
      throw new BadRequestException(`The body is not an image that sharp can read: ${(error as Error).message}`);
    }
    if (metadata.width * metadata.height > MAX_PIXELS) {
      throw new BadRequestException(`The image has ${metadata.width} × ${metadata.height} pixels; at most ${MAX_PIXELS} are accepted`);
    }
  }

  /** Queues the resize; throws QueueFullError or QueueClosedError (503) when the queue cannot take it. */
  enqueue(request: ThumbnailRequest, upload?: Buffer): WorkItem<Uint8Array> {
    const image = upload === undefined ? undefined : transferable(upload);
    const input: ThumbnailInput = { ...request, image, path: image === undefined ? SAMPLE_IMAGE : undefined, maxPixels: MAX_PIXELS };
    // The upload is moved to the thread, not copied (after that it is empty here), and the thumbnail's bytes are moved
    // back. A resize is one step that cannot tell how far along it is, so it reports no progress: the job shows 0
    // until it has succeeded, then 1, nothing made up.
    const item = this.queue.enqueue(
      ({ signal }) => this.threads.run<ThumbnailInput, Uint8Array>(THUMBNAIL_TASK, input, { signal, transfer: image === undefined ? [] : [image] }),
      // The moved upload cannot be sent twice: no retry (a resize that failed once fails again anyway).
      { name: `thumbnail:${request.width ?? 'auto'}x${request.height ?? 'auto'}`, retry: 1 },
    );
    // The task writes the format asked for, so the content type is known here.
    this.jobs.track(item, `image/${request.format}`);
    return item;
  }

  view(id: string): FileJobView | undefined {
    return this.jobs.view(id);
  }

  file(id: string): ReturnType<FileJobs['file']> {
    return this.jobs.file(id);
  }
}

/**
 * The bytes as a whole ArrayBuffer that can be transferred. A body of 4 KiB or more already owns its ArrayBuffer;
 * a smaller one is a slice of Node's shared buffer pool, which must not be moved, so it is copied (cheaply).
 */
function transferable(bytes: Buffer): ArrayBuffer {
  const { buffer, byteOffset, byteLength } = bytes;
  if (buffer instanceof ArrayBuffer && byteOffset === 0 && byteLength === buffer.byteLength) return buffer;
  return new Uint8Array(bytes).buffer;
}
