/**
 * `import()` of an optional package at run time (the SQLite drivers), as an ES module namespace: a CommonJS
 * package's exports under `default`. The CommonJS build has a twin (scripts/cjs-overrides/import-module.ts) that uses
 * `require`, because Jest's CommonJS runtime refuses `import()` ("A dynamic import callback was invoked without
 * --experimental-vm-modules") and Jest with stock ts-jest is where most CommonJS apps test.
 */
export function importModule(specifier: string, json = false): Promise<any> {
  return json ? import(specifier, { with: { type: 'json' } }) : import(specifier);
}
