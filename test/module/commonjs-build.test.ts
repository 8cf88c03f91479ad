import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DRIVERS, tempFolder } from '../support/stores.js';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('../fixtures/commonjs-durable.cjs', import.meta.url));
const importModule = fileURLToPath(new URL('../../dist/cjs/import-module.js', import.meta.url));

describe('The CommonJS build', () => {
  it('loads optional packages with require(), never import(), which Jest refuses in CommonJS', () => {
    const code = readFileSync(importModule, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
    expect(code).toContain('require(specifier)');
    expect(code).not.toMatch(/\bimport\(/);
  });

  it.each(DRIVERS)('runs a durable job and a recurring one on sqliteStore(%s) when loaded by require()', async (driver) => {
    const folder = tempFolder();
    try {
      const { stdout } = await run(process.execPath, [fixture, folder.file(), driver], { timeout: 30_000 });
      expect(stdout).toContain('RAN 7 attempt 1');
      expect(stdout).toContain('STATE succeeded');
      expect(stdout).toMatch(/SCHEDULED every-second \d{4}-\d\d-\d\dT/);
      expect(stdout).toContain('RAN 8 attempt 1');
      expect(stdout).toMatch(/BUILD .*dist\/cjs\/index\.js/);
    } finally {
      folder.cleanup();
    }
  });
});
