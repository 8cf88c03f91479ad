import { BadRequestException } from '@nestjs/common';
import type { ThumbnailFit, ThumbnailFormat } from './tasks/thumbnail.task.js';

export interface ThumbnailRequest {
  width?: number;
  height?: number;
  fit: ThumbnailFit;
  format: ThumbnailFormat;
}

/** The largest thumbnail side, in pixels. */
export const MAX_THUMBNAIL_SIDE = 2_048;
const FITS: readonly ThumbnailFit[] = ['cover', 'contain', 'fill', 'inside', 'outside'];
const FORMATS: readonly ThumbnailFormat[] = ['png', 'jpeg', 'webp'];
const KEYS = new Set(['width', 'height', 'fit', 'format']);

/**
 * Checks the query of `POST /thumbnails`: `width` and/or `height` (whole pixels, 1 to 2048), `fit` (sharp's: `cover`,
 * the default, crops to exactly width × height; `inside` keeps the whole image within them) and `format` (`png`, the
 * default, `jpeg` or `webp`). Every problem is listed in one 400 answer.
 */
export function parseThumbnailQuery(query: Record<string, unknown>): ThumbnailRequest {
  const problems = Object.keys(query)
    .filter((key) => !KEYS.has(key))
    .map((key) => `unknown query parameter "${key}"`);
  const size = (key: 'width' | 'height'): number | undefined => {
    const raw = query[key];
    if (raw === undefined) return undefined;
    const value = typeof raw === 'string' && /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
    if (!(value >= 1 && value <= MAX_THUMBNAIL_SIDE)) {
      problems.push(`${key} must be a whole number of pixels from 1 to ${MAX_THUMBNAIL_SIDE}`);
      return undefined;
    }
    return value;
  };
  const oneOf = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const raw = query[key];
    if (raw === undefined) return fallback;
    if (typeof raw === 'string' && (allowed as readonly string[]).includes(raw)) return raw as T;
    problems.push(`${key} must be one of ${allowed.join(', ')}`);
    return fallback;
  };
  const width = size('width');
  const height = size('height');
  const fit = oneOf('fit', FITS, 'cover');
  const format = oneOf('format', FORMATS, 'png');
  if (query.width === undefined && query.height === undefined) problems.push('give width, height or both, such as ?width=320&height=240');
  if (problems.length > 0) throw new BadRequestException(problems);
  return { width, height, fit, format };
}
