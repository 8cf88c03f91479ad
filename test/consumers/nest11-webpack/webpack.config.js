// `nest build --webpack` bundles src/main.ts alone: a worker-thread task file is loaded by path at run time, so it
// must be an entry of its own. Built as `library: { type: 'commonjs2' }`, the bundle keeps the entry's exports
// (Nest 11's webpack config would drop them, and WorkerThreads.run() would find no default export).
module.exports = (options) => ({
  ...options,
  entry: {
    main: options.entry,
    'hash.task': { import: './src/hash.task.ts', library: { type: 'commonjs2' } },
  },
  output: { ...options.output, filename: '[name].js' },
});
