/**
 * The CommonJS build's twin of lib/import-module.ts (scripts/build.mjs puts it in place): `require`, which Jest's
 * CommonJS runtime allows where it refuses `import()`, shaped as the ES module namespace `import()` would give.
 */
export function importModule(specifier: string, json = false): Promise<any> {
  return new Promise((resolve) => {
    const exports = require(specifier);
    resolve(json || typeof exports !== 'object' || exports === null ? { default: exports } : { ...exports, default: exports });
  });
}
