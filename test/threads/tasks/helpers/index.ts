/** Imported as the directory './helpers', as bundler-style TypeScript sources do. */
export const OFFSET = 100;
