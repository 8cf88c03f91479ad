'use strict';
// What TypeScript emits for `export default function` in a CommonJS project (module: commonjs).
Object.defineProperty(exports, '__esModule', { value: true });
exports.triple = triple;
exports.default = function legacy(input) {
  return input.n + 1;
};
function triple(input) {
  return input.n * 3;
}
