import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Every ```ts (or ```typescript) block of README.md and of every docs/*.md must compile on its own against the
 * library's source, with the compiler options of tsconfig.json: each block is written to its own file under
 * .test-build/readme/ and typechecked in its own program. A failure names the Markdown file and line.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = join(root, '.test-build', 'readme');

interface Block {
  /** The Markdown file, relative to the repository root with `/` separators: `README.md`, `docs/queues.md`. */
  doc: string;
  /** 1-based, in the file's order. */
  index: number;
  /** The file's line of the block's first code line. */
  line: number;
  /** Spaces of indentation removed from every line (a block inside a list item). */
  indent: number;
  code: string;
}

function extractBlocks(doc: string, markdown: string): Block[] {
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
    if (end === lines.length) throw new Error(`${doc}: the \`\`\`ts block at line ${i + 1} is never closed`);
    const code = lines.slice(start, end).map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line));
    blocks.push({ doc, index: blocks.length + 1, line: start + 1, indent: indent.length, code: code.join('\n') + '\n' });
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

/** README.md, then docs/*.md in name order. */
const docs = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .toSorted()
    .map((name) => `docs/${name}`),
];
const blocksByDoc = new Map(docs.map((doc) => [doc, extractBlocks(doc, readFileSync(join(root, doc), 'utf8'))]));
const blocks = [...blocksByDoc.values()].flat();
const options = compilerOptions();
const host = ts.createCompilerHost(options);
let previous: ts.Program | undefined;

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
/** One file per block, named after its Markdown file: docs/queues.md block 3 is docs-queues-03.ts. */
const files = blocks.map((block) => {
  const file = join(outDir, `${block.doc.replace(/\.md$/, '').replace(/[^A-Za-z0-9]+/g, '-')}-${String(block.index).padStart(2, '0')}.ts`);
  writeFileSync(file, block.code);
  return file;
});

/** The block's own diagnostics (not the library's), as `<doc>:<line>:<col> TS<code>: <message>`. */
function typecheck(block: Block, file: string): string[] {
  // oldProgram lets each program reuse the parsed library and declaration files of the one before.
  const program = ts.createProgram({ rootNames: [file], options, host, oldProgram: previous });
  previous = program;
  const source = program.getSourceFile(file);
  if (source === undefined) return [`${block.doc} block ${block.index}: ${file} is not in the program`];
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
    const where = d.file === source ? `${block.doc}:${block.line + line}:${block.indent + character + 1}` : `${d.file.fileName}:${line + 1}:${character + 1}`;
    return `${where} TS${d.code}: ${text}`;
  });
}

describe('README.md and docs/*.md', () => {
  it('are all read, and README.md has ```ts blocks', () => {
    expect(docs).toContain('README.md');
    expect(docs.length).toBeGreaterThan(1);
    expect(blocksByDoc.get('README.md')?.length ?? 0).toBeGreaterThan(0);
  });
});

// One suite per Markdown file that has ```ts blocks (Vitest refuses an empty suite), one test per block.
const suites = docs
  .map((doc) => ({ doc, cases: (blocksByDoc.get(doc) ?? []).map((block) => ({ block, file: files[blocks.indexOf(block)] })) }))
  .filter(({ cases }) => cases.length > 0);

describe.each(suites)('$doc', ({ cases }) => {
  it.each(cases)('block $block.index (line $block.line) typechecks', ({ block, file }) => {
    const messages = typecheck(block, file);
    expect(messages, `${block.doc} block ${block.index} (line ${block.line}) does not compile:\n${messages.join('\n')}`).toEqual([]);
  });
});
