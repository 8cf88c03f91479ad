// Runs after `nest build --webpack`: the task entry keeps its exports, and a thread runs it from the bundle.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { createHash } = require('node:crypto');
const { join } = require('node:path');
const { NestFactory } = require('@nestjs/core');
const { BackgroundWorkModule, WorkerThreads } = require('nestjs-background-work');

const TASK = join(__dirname, '..', 'dist', 'hash.task.js');

function expected(text, rounds) {
  let digest = text;
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).digest('hex');
  return digest;
}

test('the task entry is a CommonJS module with its default export', () => {
  const task = require(TASK);
  assert.equal(typeof task.default, 'function');
  assert.equal(task.default({ text: 'consumer', rounds: 3 }), expected('consumer', 3));
});

test('a worker thread runs the bundled task', async () => {
  const app = await NestFactory.createApplicationContext(BackgroundWorkModule.forRoot({ threads: { maxThreads: 1 } }), { logger: false });
  try {
    assert.equal(await app.get(WorkerThreads).run(TASK, { text: 'consumer', rounds: 1000 }), expected('consumer', 1000));
  } finally {
    await app.close();
  }
});
