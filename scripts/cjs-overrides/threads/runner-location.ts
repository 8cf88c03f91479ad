/**
 * The CommonJS build's twin of lib/threads/runner-location.ts (scripts/build.mjs puts it in place): CommonJS has no
 * `import.meta`, so the runner beside this file is found from `__dirname`.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The compiled runner sits beside this file; when the library runs from its sources, only the .ts does. */
export const COMPILED_RUNNER = pathToFileURL(join(__dirname, 'task-runner.js'));
export const SOURCE_RUNNER = pathToFileURL(join(__dirname, 'task-runner.ts'));
