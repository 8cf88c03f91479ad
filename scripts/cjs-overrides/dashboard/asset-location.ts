/**
 * The CommonJS build's twin of lib/dashboard/asset-location.ts (scripts/build.mjs puts it in place): CommonJS has no
 * `import.meta`, so the assets beside this file are found from `__dirname`.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const ASSETS_FOLDER = pathToFileURL(join(__dirname, 'assets') + '/');
