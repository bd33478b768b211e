/**
 * The runtime-neutral core really is: nothing under src/tensor, src/autograd, src/nn, src/optim, src/io,
 * src/data, src/train, src/features, src/probe, src/parallel or src/web may reach for Node (node: modules or bare builtins, `process`, `Buffer`,
 * `require`, `__dirname`, …) or import from the Node-only layers (src/node, src/cli). The browser
 * demo and its worker import dist/ unchanged, so one such line would break them.
 *
 * The scan parses each file with the TypeScript compiler (so comments, strings and property names such
 * as `x.process` never count) and reports every finding as `file:line: what`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NEUTRAL_DIRS = [
  'tensor',
  'autograd',
  'nn',
  'optim',
  'io',
  'data',
  'train',
  'features',
  'probe',
  'compare',
  'model',
  'parallel',
  'web',
  'wasm',
].map((d) => join(ROOT, 'src', d));

/** Globals that exist in Node but not in browsers or workers. */
const NODE_GLOBALS = new Set([
  'process',
  'Buffer',
  'require',
  '__dirname',
  '__filename',
  'global',
  'setImmediate',
  'clearImmediate',
  'NodeJS',
]);
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, m.split('/')[0]!]));

interface Finding {
  line: number;
  what: string;
}

function isNodeModuleSpecifier(spec: string): boolean {
  return spec.startsWith('node:') || BUILTINS.has(spec) || BUILTINS.has(spec.split('/')[0]!);
}

/** Is this identifier a name being declared or a property name, rather than a reference to a global? */
function isNotAReference(id: ts.Identifier): boolean {
  const p = id.parent;
  if ((ts.isPropertyAccessExpression(p) || ts.isQualifiedName(p)) && (ts.isPropertyAccessExpression(p) ? p.name : p.right) === id)
    return true;
  if (
    (ts.isPropertyAssignment(p) ||
      ts.isPropertyDeclaration(p) ||
      ts.isPropertySignature(p) ||
      ts.isMethodDeclaration(p) ||
      ts.isMethodSignature(p)) &&
    p.name === id
  )
    return true;
  if ((ts.isGetAccessorDeclaration(p) || ts.isSetAccessorDeclaration(p) || ts.isEnumMember(p)) && p.name === id) return true;
  if (ts.isBindingElement(p) && p.propertyName === id) return true;
  if (ts.isImportSpecifier(p) || ts.isExportSpecifier(p)) return true;
  if (ts.isLabeledStatement(p) || ts.isBreakOrContinueStatement(p)) return true;
  return false;
}

/** Names the file declares itself (a local `process` variable is not Node's). */
function declaredNames(source: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (
      (ts.isVariableDeclaration(node) ||
        ts.isParameter(node) ||
        ts.isFunctionDeclaration(node) ||
        ts.isClassDeclaration(node) ||
        ts.isBindingElement(node)) &&
      node.name &&
      ts.isIdentifier(node.name)
    ) {
      names.add(node.name.text);
    }
    if (ts.isImportClause(node) && node.name) names.add(node.name.text);
    if (ts.isImportSpecifier(node) || ts.isNamespaceImport(node)) names.add(node.name.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return names;
}

/**
 * Every use of Node in one file. `allowedRoots` are the directories a relative import may land in
 * (anything else, e.g. src/node or src/cli, is a finding).
 */
export function findNodeDependencies(fileName: string, text: string, allowedRoots: readonly string[]): Finding[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const findings: Finding[] = [];
  const lineOf = (node: ts.Node): number => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const own = declaredNames(source);
  const checkSpecifier = (node: ts.Node, spec: string): void => {
    if (isNodeModuleSpecifier(spec)) {
      findings.push({ line: lineOf(node), what: `imports the Node module '${spec}'` });
    } else if (spec.startsWith('.')) {
      const target = resolve(dirname(fileName), spec);
      if (!allowedRoots.some((r) => target === r || target.startsWith(r + sep))) {
        findings.push({ line: lineOf(node), what: `imports '${spec}', outside the runtime-neutral layers (${relative(ROOT, target)})` });
      }
    }
  };
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      checkSpecifier(node, node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      findings.push({ line: lineOf(node), what: 'uses import = require(…)' });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg && ts.isStringLiteralLike(arg)) checkSpecifier(node, arg.text);
      else findings.push({ line: lineOf(node), what: 'uses a dynamic import() of a computed specifier' });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      checkSpecifier(node, node.argument.literal.text);
    } else if (
      ts.isPropertyAccessExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'globalThis' &&
      NODE_GLOBALS.has(node.name.text)
    ) {
      findings.push({ line: lineOf(node), what: `uses the Node global 'globalThis.${node.name.text}'` });
    } else if (ts.isIdentifier(node) && NODE_GLOBALS.has(node.text) && !own.has(node.text) && !isNotAReference(node)) {
      findings.push({ line: lineOf(node), what: `uses the Node global '${node.text}'` });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return findings;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.isFile() && e.name.endsWith('.ts') ? [path] : [];
  });
}

describe('findNodeDependencies (the scanner itself)', () => {
  const file = join(ROOT, 'src', 'train', 'example.ts');
  const scan = (code: string): string[] => findNodeDependencies(file, code, NEUTRAL_DIRS).map((f) => `${f.line}: ${f.what}`);

  it('reports each kind of Node dependency with its line', () => {
    const code = [
      "import { readFileSync } from 'node:fs';", // 1
      "import * as path from 'path';", // 2
      "export { x } from 'fs/promises';", // 3
      "import { y } from '../node/files.js';", // 4
      "import type { Z } from '../cli/args.js';", // 5
      'const a = process.env.HOME;', // 6
      'const b = Buffer.from([1]);', // 7
      "const c = require('os');", // 8
      'const d = __dirname + __filename;', // 9
      'setImmediate(() => {});', // 10
      'const e = globalThis.process;', // 11
      "const f = await import('node:worker_threads');", // 12
      'let g: NodeJS.Timeout;', // 13
      "import h = require('crypto');", // 14
      "type I = import('node:stream').Readable;", // 15
    ].join('\n');
    expect(scan(code)).toEqual([
      "1: imports the Node module 'node:fs'",
      "2: imports the Node module 'path'",
      "3: imports the Node module 'fs/promises'",
      "4: imports '../node/files.js', outside the runtime-neutral layers (src/node/files.js)",
      "5: imports '../cli/args.js', outside the runtime-neutral layers (src/cli/args.js)",
      "6: uses the Node global 'process'",
      "7: uses the Node global 'Buffer'",
      "8: uses the Node global 'require'",
      "9: uses the Node global '__dirname'",
      "9: uses the Node global '__filename'",
      "10: uses the Node global 'setImmediate'",
      "11: uses the Node global 'globalThis.process'",
      "12: imports the Node module 'node:worker_threads'",
      "13: uses the Node global 'NodeJS'",
      '14: uses import = require(…)',
      "15: imports the Node module 'node:stream'",
    ]);
  });

  it('ignores comments, strings, property names and the neutral layers importing each other', () => {
    const code = [
      "import { Tensor } from '../tensor/tensor.js';",
      "import type { Tape } from '../autograd/tape.js';",
      "export * from '../io/safetensors.js';",
      '// a Node Buffer would be a view here; process.env is not read',
      "const msg = 'cannot process the Buffer; require(x)';",
      'const o = { process: 1, Buffer: 2 };',
      'const p = o.process + o.Buffer;',
      'class K { process(): void {} }',
      'function run(require: number) { return require + 1; }',
      'const { process: renamed } = o;',
      'const t = `template ${"process"}`;',
    ].join('\n');
    expect(scan(code)).toEqual([]);
  });
});

describe('the runtime-neutral layers', () => {
  const files = NEUTRAL_DIRS.flatMap((d) => sourceFiles(d));

  it('are present (the scan below is not vacuous)', () => {
    for (const dir of NEUTRAL_DIRS)
      expect(
        files.some((f) => f.startsWith(dir + sep)),
        relative(ROOT, dir),
      ).toBe(true);
  });

  it('import nothing from Node and use no Node global', () => {
    const report = files.flatMap((f) =>
      findNodeDependencies(f, readFileSync(f, 'utf8'), NEUTRAL_DIRS).map((x) => `${relative(ROOT, f)}:${x.line}: ${x.what}`),
    );
    expect(report).toEqual([]);
  });
});
