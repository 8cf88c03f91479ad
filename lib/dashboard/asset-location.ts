/**
 * Where the page's script and style sheet are: beside this file, in lib/ and in dist/ alike (scripts/build.mjs
 * copies them). The CommonJS build has no `import.meta`: its twin is scripts/cjs-overrides/dashboard/asset-location.ts.
 */
export const ASSETS_FOLDER = new URL('./assets/', import.meta.url);
