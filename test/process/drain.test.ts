import { afterEach, describe, expect, it } from 'vitest';
import { httpJson, killAll, startHttpFixture } from './fixture-process.js';

// Real processes on shared machines: the time bounds only tell "drained, then exited" from "hung" or "waited for
// work it should have cut off"; they are not performance assertions.
const MARGIN = 10_000;
const SUMMARY = /Background work stopped in \d+ ms/;
/** One line of the output that contains `pattern` (`$` anchors at the line's end). */
const logLine = (pattern: string): RegExp => new RegExp(`^.*${pattern}`, 'm');

afterEach(killAll);

describe('SIGTERM drains the queue (drain-app)', () => {
  it('lets running and pending work finish, then exits 0', { timeout: 60_000 }, async () => {
    const shutdownTimeout = 15_000;
    const { app, port } = await startHttpFixture('drain-app', { SHUTDOWN_TIMEOUT: String(shutdownTimeout), CONCURRENCY: '2' });
    const items = ['a', 'b', 'c', 'd'].map((name) => ({ name, ms: 1_500 }));
    const { status, body } = await httpJson(port, 'POST', '/work', { items });
    expect(status).toBe(201);
    const ids: number[] = body.ids;
    expect(ids).toHaveLength(4);
    // Two run, two wait for a slot.
    await app.waitFor(new RegExp(`^STARTED ${ids[1]}$`, 'm'));

    app.signal('SIGTERM');
    const exit = await app.exited(shutdownTimeout + MARGIN);
    console.info(`drain-app: SIGTERM to exit ${exit.ms} ms (4 items of 1.5 s, concurrency 2)`);

    expect(exit).toMatchObject({ code: 0, signal: null });
    for (const id of ids) expect(app.output).toMatch(new RegExp(`^DONE ${id}$`, 'm'));
    expect(app.output).toMatch(/Draining queue "default": \d+ pending, \d+ running/);
    expect(app.output).toMatch(/work items: 4 succeeded, 0 failed, 0 cancelled/);
    expect(app.output).not.toMatch(/No SIGTERM or SIGINT listener/);
    // The drain runs before onApplicationShutdown, where connections close.
    const summaryAt = app.output.search(SUMMARY);
    expect(summaryAt).toBeGreaterThan(-1);
    expect(summaryAt).toBeGreaterThan(app.output.lastIndexOf('DONE '));
    expect(app.output.indexOf('POOL CLOSED')).toBeGreaterThan(summaryAt);
  });

  it('refuses new work with QueueClosedError once the drain has begun', { timeout: 60_000 }, async () => {
    const { app, port } = await startHttpFixture('drain-app', { SHUTDOWN_TIMEOUT: '15000' });
    const { body } = await httpJson(port, 'POST', '/work', { items: [{ name: 'long', ms: 3_000 }] });
    await app.waitFor(new RegExp(`^STARTED ${body.ids[0]}$`, 'm'));

    app.signal('SIGTERM');
    await app.waitFor(/Draining queue "default"/);
    // The HTTP server closes only after the drain: it still answers, and the controller maps the error to 503.
    const late = await httpJson(port, 'POST', '/work', { items: [{ name: 'late', ms: 10 }] });
    expect(late.status).toBe(503);
    expect(late.body.message).toMatch(/closed/i);

    const exit = await app.exited(15_000 + MARGIN);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(app.output).toMatch(new RegExp(`^DONE ${body.ids[0]}$`, 'm'));
    expect(app.count(/^STARTED /gm)).toBe(1);
  });

  it('at a short shutdownTimeout cancels what is left, names it, and exits 0 without waiting for it', { timeout: 60_000 }, async () => {
    const shutdownTimeout = 500;
    const grace = 1_000;
    const { app, port } = await startHttpFixture('drain-app', { SHUTDOWN_TIMEOUT: String(shutdownTimeout), CONCURRENCY: '2' });
    // Far longer than the bound below: exiting in time proves that nothing waited for them.
    const ms = 120_000;
    const { body } = await httpJson(port, 'POST', '/work', {
      items: [
        { name: 'honours', ms },
        { name: 'ignores', ms, ignoreSignal: true },
        { name: 'pending-1', ms },
        { name: 'pending-2', ms },
      ],
    });
    const [honours, ignores, pending1, pending2] = body.ids as number[];
    await app.waitFor(new RegExp(`^STARTED ${ignores}$`, 'm'));

    app.signal('SIGTERM');
    const exit = await app.exited(shutdownTimeout + grace + MARGIN);
    console.info(`drain-app: SIGTERM to exit ${exit.ms} ms (shutdownTimeout ${shutdownTimeout} ms, grace ${grace} ms)`);

    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(app.output).toMatch(logLine(`2 pending items cancelled at the shutdown deadline: #${pending1} "pending-1", #${pending2} "pending-2"`));
    expect(app.output).toMatch(logLine(`2 running items cancelled at the shutdown deadline.*: #${honours} "honours", #${ignores} "ignores"`));
    expect(app.output).toMatch(logLine(`still running ${grace} ms after the deadline, abandoned: #${ignores} "ignores"$`));
    // The one that honours its signal stopped; the others never finished or never started.
    expect(app.output).toMatch(new RegExp(`^ABORTED ${honours}$`, 'm'));
    expect(app.output).not.toMatch(/^DONE /m);
    expect(app.output).not.toMatch(new RegExp(`^STARTED (${pending1}|${pending2})$`, 'm'));
    expect(app.output).toMatch(/work items: 0 succeeded, 0 failed, 4 cancelled \(4 at the shutdown deadline\)/);
    expect(app.output).toMatch(SUMMARY);
  });

  it('goes on draining when SIGTERM (and SIGINT) come again', { timeout: 60_000 }, async () => {
    const shutdownTimeout = 15_000;
    const { app, port } = await startHttpFixture('drain-app', { SHUTDOWN_TIMEOUT: String(shutdownTimeout) });
    const items = ['a', 'b', 'c'].map((name) => ({ name, ms: 2_000 }));
    const { body } = await httpJson(port, 'POST', '/work', { items });
    const ids: number[] = body.ids;
    await app.waitFor(new RegExp(`^STARTED ${ids[2]}$`, 'm'));

    app.signal('SIGTERM');
    await app.waitFor(/Draining queue "default"/);
    // Past the window in which a second signal is taken for the same Ctrl+C delivered twice (launcher + terminal).
    await new Promise((resolve) => setTimeout(resolve, 700));
    app.signal('SIGTERM');
    await app.waitFor(/Received SIGTERM again/);
    app.signal('SIGINT');
    await app.waitFor(/Received SIGINT again/);
    const exit = await app.exited(shutdownTimeout + MARGIN);
    console.info(`drain-app: first SIGTERM to exit ${exit.ms} ms (3 items of 2 s, signalled twice more)`);

    expect(exit).toMatchObject({ code: 0, signal: null });
    for (const id of ids) expect(app.output).toMatch(new RegExp(`^DONE ${id}$`, 'm'));
    expect(app.output).toMatch(/work items: 3 succeeded, 0 failed, 0 cancelled/);
    expect(app.output).toMatch('POOL CLOSED');
  });

  // The drain ends before Nest closes the HTTP server and runs onApplicationShutdown: a signal then is not the one
  // Nest re-raises at the very end (Nest still listens), so it must not end the process early.
  it('lets onApplicationShutdown finish when SIGTERM comes again after the drain', { timeout: 60_000 }, async () => {
    // The pool takes 3 s to close, after the summary line: a second SIGTERM then must not end the process early.
    const { app } = await startHttpFixture('drain-app', { SHUTDOWN_TIMEOUT: '15000', POOL_CLOSE_MS: '3000' });
    app.signal('SIGTERM');
    await app.waitFor(SUMMARY);
    app.signal('SIGTERM');
    const exit = await app.exited(15_000 + MARGIN);
    expect(app.output).toMatch('POOL CLOSED');
    expect(exit).toMatchObject({ code: 0, signal: null });
  });
});
