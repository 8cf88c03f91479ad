import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * Both builds, as an application loads them (require() for CommonJS, import for ESM), serve the dashboard with its
 * bundled assets, and load @nestjs/terminus only when the health indicator is asked: an application without it
 * runs, and the indicator then says what to install.
 */
const run = promisify(execFile);
const FIXTURES = {
  commonjs: fileURLToPath(new URL('../fixtures/observe-commonjs.cjs', import.meta.url)),
  esm: fileURLToPath(new URL('../fixtures/observe-esm.mjs', import.meta.url)),
};

describe.each(Object.entries(FIXTURES))('the %s build', (build, fixture) => {
  it('serves the dashboard and its assets from the package, and answers health with terminus installed', async () => {
    const { stdout } = await run(process.execPath, [fixture, 'with-terminus'], { timeout: 60_000 });
    expect(stdout).toContain('GET / 200 body');
    expect(stdout).toContain('GET /assets/dashboard.js 200 body');
    expect(stdout).toContain('GET /assets/dashboard.css 200 body');
    expect(stdout).toContain('GET /api/overview 200 body');
    expect(stdout).toContain('HEALTH up');
    expect(stdout).toMatch(build === 'commonjs' ? /BUILD .*dist\/cjs\/index\.js/ : /BUILD file:.*\/dist\/index\.js/);
  });

  it('runs without @nestjs/terminus, which only the health indicator asks for', async () => {
    const { stdout } = await run(process.execPath, [fixture, 'without-terminus'], { timeout: 60_000 });
    expect(stdout).toContain('GET / 200 body');
    // Every load of terminus fails here: the page being served proves that nothing but the indicator asks for it.
    expect(stdout).toMatch(/HEALTH ERROR BackgroundWorkHealthIndicator needs @nestjs\/terminus: npm install @nestjs\/terminus \(.*Cannot find (module|package) '@nestjs\/terminus'/);
  });
});
