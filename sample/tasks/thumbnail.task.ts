/**
 * Resizes an image with sharp, on a worker thread. Unlike the PDF report, sharp already keeps its pixel work off the
 * event loop (libvips runs on libuv's thread pool), so here the thread is not about event-loop delay (measured: the
 * same inline and on a thread). It gives image work what every CPU job on the `cpu` queue gets: a hard stop (a
 * timeout, cancel or the shutdown deadline terminates the thread, where a sharp call on the main thread cannot be
 * aborted by a signal) and one bound, the pool's threads, for all CPU work of the process.
 */
import sharp from 'sharp';
import { sendFile, type FileTaskInput } from './task-port.js';

export type ThumbnailFit = 'cover' | 'contain' | 'fill' | 'inside' | 'outside';
export type ThumbnailFormat = 'png' | 'jpeg' | 'webp';

export interface ThumbnailInput extends FileTaskInput {
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

export interface ThumbnailOutput {
  width: number;
  height: number;
  format: string;
  bytes: number;
}

export default async function makeThumbnail(input: ThumbnailInput): Promise<ThumbnailOutput> {
  const source = input.image !== undefined ? Buffer.from(input.image) : input.path;
  if (source === undefined) throw new TypeError('makeThumbnail needs an image or a path');
  const { data, info } = await sharp(source, { limitInputPixels: input.maxPixels })
    .rotate() // apply the EXIF orientation, so that a phone photo is not turned on its side
    .resize({ width: input.width, height: input.height, fit: input.fit })
    .toFormat(input.format)
    .toBuffer({ resolveWithObject: true });
  sendFile(input.port, data, `image/${info.format}`);
  return { width: info.width, height: info.height, format: info.format, bytes: info.size };
}
