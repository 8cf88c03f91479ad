import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The dashboard's browser script is plain JavaScript shipped as is: it is typechecked here (with the DOM's types,
 * strict), and read for the ways in which data could become markup or code.
 */
const file = fileURLToPath(new URL('../../lib/dashboard/assets/dashboard.js', import.meta.url));
const source = readFileSync(file, 'utf8');

describe('the dashboard script', () => {
  it('typechecks, strict, against the DOM', () => {
    const program = ts.createProgram([file], {
      allowJs: true,
      checkJs: true,
      noEmit: true,
      strict: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ES2022,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
      types: [],
      skipLibCheck: true,
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file && d.start !== undefined ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : '';
      return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
    });
    expect(diagnostics).toEqual([]);
  });

  it('never turns text into markup or code', () => {
    const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function', 'javascript:', 'srcdoc', "setAttribute('style'", 'setHTML', 'createContextualFragment']) {
      expect(code, `the script uses ${sink}`).not.toContain(sink);
    }
    // Attributes come from the script's own names; event handlers only through addEventListener.
    expect(code).not.toMatch(/setAttribute\(\s*['"]on/);
  });
});
