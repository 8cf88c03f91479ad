import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ASSETS_FOLDER } from './asset-location.js';

export interface Asset {
  /** UTF-8 text, as the frameworks reply with strings alike (a Buffer would be JSON to Express's adapter). */
  body: string;
  type: string;
  /** A strong validator: the content's hash. */
  etag: string;
}

/** The files the page loads, and only those: a name not listed here is a 404, never a path into the file system. */
const FILES: Record<string, string> = {
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
};

/** The page's script and style sheet, shipped in the package (no CDN), read once. */
@Injectable()
export class DashboardAssets {
  private readonly files = new Map<string, Asset>();
  /** Changes with any file: the page asks for `?v=` it, so a new release is never served from a stale cache. */
  readonly version: string;

  constructor() {
    const all = createHash('sha256');
    for (const [name, type] of Object.entries(FILES)) {
      let body: string;
      try {
        body = readFileSync(new URL(name, ASSETS_FOLDER), 'utf8');
      } catch (error) {
        throw new Error(`nestjs-background-work: the dashboard's ${name} is missing from ${ASSETS_FOLDER.pathname} (a broken install or bundle)`, { cause: error });
      }
      const hash = createHash('sha256').update(body).digest('base64url').slice(0, 22);
      all.update(hash);
      this.files.set(name, { body, type, etag: `"${hash}"` });
    }
    this.version = all.digest('base64url').slice(0, 12);
  }

  get(name: string): Asset | undefined {
    return Object.hasOwn(FILES, name) ? this.files.get(name) : undefined;
  }
}
