/**
 * Resizes an image with sharp, on a worker thread. Unlike the PDF report, sharp already keeps its pixel work off the
 * event loop (libvips runs on libuv's thread pool), so here the thread is not about event-loop delay (measured: the
 * same inline and on a thread). It gives image work what every CPU job on the `cpu` queue gets: a hard stop (a
 * timeout, cancel or the shutdown deadline terminates the thread, where a sharp call on the main thread cannot be
 * aborted by a signal) and one bound, the pool's threads, for all CPU work of the process.
 */
import type { TaskContext } from 'nestjs-background-work';
import sharp from 'sharp';

export type ThumbnailFit = 'cover' | 'contain' | 'fill' | 'inside' | 'outside';
export type ThumbnailFormat = 'png' | 'jpeg' | 'webp';

export interface ThumbnailInput {
  /** The uploaded image, moved (not copied) to this thread. Without it, the file at `path` is read here. */
  image?: ArrayBuffer;
  path?: string;
  /** At least one of width and height; with only one, the other follows the aspect ratio. */
  width?: number;
  height?: number;
  /** sharp's fit: `cover` (the default) crops to exactly width × height, `inside` fits within it. */
  fit: ThumbnailFit;
  format: ThumbnailFormat;
  /** Decompression-bomb guard: images with more pixels are refused. */
  maxPixels: number;
}

/**
 * The task: returns the image in `input.format` (so the app knows its content type), its bytes moved to the app
 * rather than copied there. sharp's output is native memory, which cannot be moved as it is: `move` copies it into a
 * buffer of its own here, off the event loop.
 */
export default async function makeThumbnail(input: ThumbnailInput, context: TaskContext): Promise<Uint8Array> {
  const source = input.image !== undefined ? Buffer.from(input.image) : input.path;
  if (source === undefined) throw new TypeError('makeThumbnail needs an image or a path');
  const image = await sharp(source, { limitInputPixels: input.maxPixels })
    .rotate() // apply the EXIF orientation, so that a phone photo is not turned on its side
    .resize({ width: input.width, height: input.height, fit: input.fit })
    .toFormat(input.format)
    .toBuffer();
  return context.move(image);
}
