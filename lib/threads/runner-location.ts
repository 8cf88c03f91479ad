/**
 * Where the thread runner is. The CommonJS build has no `import.meta`: scripts/build.mjs swaps in its twin from
 * scripts/cjs-overrides/threads/runner-location.ts, which exports the same names.
 */

/** The compiled runner sits beside this file; when the library runs from its sources, only the .ts does. */
export const COMPILED_RUNNER = new URL('./task-runner.js', import.meta.url);
export const SOURCE_RUNNER = new URL('./task-runner.ts', import.meta.url);
