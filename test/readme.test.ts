import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Every ```ts (or ```typescript) block of the README must compile on its own against the library's source, with
 * the compiler options of tsconfig.json: each block is written to its own file under .test-build/readme/ and
 * typechecked in its own program.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = join(root, '.test-build', 'readme');

interface Block {
  /** 1-based, in README order. */
  index: number;
  /** The README line of the block's first code line. */
  line: number;
  /** Spaces of indentation removed from every line (a block inside a list item). */
  indent: number;
  code: string;
}

function extractBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const open = /^( *)```(?:ts|typescript)\s*$/.exec(lines[i]);
    if (open === null) continue;
    // A block indented inside a list item: its fence's indentation is not part of the code.
    const indent = open[1];
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^ *```\s*$/.test(lines[end])) end++;
    if (end === lines.length) throw new Error(`README.md: the \`\`\`ts block at line ${i + 1} is never closed`);
    const code = lines.slice(start, end).map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line));
    blocks.push({ index: blocks.length + 1, line: start + 1, indent: indent.length, code: code.join('\n') + '\n' });
    i = end;
  }
  return blocks;
}

function compilerOptions(): ts.CompilerOptions {
  const configPath = join(root, 'tsconfig.json');
  const { config, error } = ts.readConfigFile(configPath, (path) => ts.sys.readFile(path));
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  const { options, errors } = ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, configPath);
  if (errors.length > 0) throw new Error(errors.map((e) => ts.flattenDiagnosticMessageText(e.messageText, '\n')).join('\n'));
  return {
    ...options,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    skipLibCheck: true,
    types: ['node'],
    noEmit: true,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
    inlineSources: false,
    rootDir: undefined,
    outDir: undefined,
    paths: { 'nestjs-background-work': [join(root, 'lib', 'index.ts')] },
  };
}

const blocks = extractBlocks(readFileSync(join(root, 'README.md'), 'utf8'));
const options = compilerOptions();
const host = ts.createCompilerHost(options);
let previous: ts.Program | undefined;

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const files = blocks.map((block) => {
  const file = join(outDir, `block-${String(block.index).padStart(2, '0')}.ts`);
  writeFileSync(file, block.code);
  return file;
});

/** The block's own diagnostics (not the library's), as `README.md:<line>:<col> TS<code>: <message>`. */
function typecheck(block: Block, file: string): string[] {
  // oldProgram lets each program reuse the parsed library and declaration files of the one before.
  const program = ts.createProgram({ rootNames: [file], options, host, oldProgram: previous });
  previous = program;
  const source = program.getSourceFile(file);
  if (source === undefined) return [`block ${block.index}: ${file} is not in the program`];
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...program.getSyntacticDiagnostics(source),
    ...program.getSemanticDiagnostics(source),
  ];
  return diagnostics.map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file === undefined || d.start === undefined) return `TS${d.code}: ${text}`;
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    const where = d.file === source ? `README.md:${block.line + line}:${block.indent + character + 1}` : `${d.file.fileName}:${line + 1}:${character + 1}`;
    return `${where} TS${d.code}: ${text}`;
  });
}

describe('README.md', () => {
  it('has ```ts blocks', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  it.each(blocks.map((block, i) => ({ block, file: files[i] })))('block $block.index (line $block.line) typechecks', ({ block, file }) => {
    const messages = typecheck(block, file);
    expect(messages, `README.md block ${block.index} (line ${block.line}) does not compile:\n${messages.join('\n')}`).toEqual([]);
  });
});
