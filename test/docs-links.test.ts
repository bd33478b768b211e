/**
 * The links from docs/*.md into the code stay true: every relative link names an existing file, every
 * `#Lx` / `#Lx-Ly` anchor lies inside it, and when the link text is a code span the linked lines contain
 * that code (whitespace-insensitive). When a file is edited and a line moves, this test names the link
 * to update instead of letting the page silently point at the wrong line.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DOCS = join(ROOT, 'docs');

export interface DocLink {
  line: number;
  text: string;
  target: string;
}

/** Markdown inline links `[text](target)`; the text may hold one level of brackets (code like `a[i]`). */
export function markdownLinks(markdown: string): DocLink[] {
  const links: DocLink[] = [];
  const re = /\[((?:[^[\]]|\[[^\]]*\])*)\]\(([^)\s]+)\)/g;
  markdown.split('\n').forEach((lineText, i) => {
    for (const m of lineText.matchAll(re)) links.push({ line: i + 1, text: m[1]!, target: m[2]! });
  });
  return links;
}

const squash = (s: string): string => s.replace(/\s+/g, '');

/** Problems with one link from `docFile`, as messages (empty when it is good). */
export function checkLink(docFile: string, link: DocLink): string[] {
  if (/^[a-z]+:/i.test(link.target) || link.target.startsWith('#')) return [];
  const where = `${relative(ROOT, docFile)}:${link.line} → ${link.target}`;
  const [path, anchor] = link.target.split('#') as [string, string | undefined];
  const file = resolve(dirname(docFile), path);
  if (!existsSync(file)) return [`${where}: no such file`];
  if (anchor === undefined) return [];
  const m = /^L(\d+)(?:-L(\d+))?$/.exec(anchor);
  if (!m) return [`${where}: anchor '#${anchor}' is not #Lx or #Lx-Ly`];
  const lines = readFileSync(file, 'utf8').split('\n');
  const from = Number(m[1]);
  const to = Number(m[2] ?? m[1]);
  if (from < 1 || to < from || to > lines.length) return [`${where}: lines ${from}-${to} are outside the file's ${lines.length} lines`];
  const code = /^`([^`]+)`$/.exec(link.text);
  if (!code) return [];
  const excerpt = lines.slice(from - 1, to).join('\n');
  if (squash(excerpt).includes(squash(code[1]!))) return [];
  const found = lines.findIndex((l) => squash(l).includes(squash(code[1]!)));
  return [`${where}: the linked line does not contain \`${code[1]}\`${found >= 0 ? ` (it is on line ${found + 1})` : ''}`];
}

describe('checkLink (the checker itself)', () => {
  const doc = join(DOCS, 'example.md');
  const target = '../src/nn/functional/mlstm.ts';
  const lines = readFileSync(join(ROOT, 'src/nn/functional/mlstm.ts'), 'utf8').split('\n');
  const n = lines.findIndex((l) => l.includes('export function mlstmSequence')) + 1;

  it('accepts a link whose line holds the code of its text, and plain links to existing files', () => {
    expect(checkLink(doc, { line: 1, text: '`export function mlstmSequence`', target: `${target}#L${n}` })).toEqual([]);
    expect(checkLink(doc, { line: 1, text: '`mlstmSequence`', target: `${target}#L${n - 1}-L${n + 1}` })).toEqual([]);
    expect(checkLink(doc, { line: 1, text: 'the window op', target })).toEqual([]);
    expect(checkLink(doc, { line: 1, text: 'a page', target: 'https://example.org/x#L5' })).toEqual([]);
  });

  it('reports a missing file, a line out of range, a bad anchor and a line that moved', () => {
    expect(checkLink(doc, { line: 3, text: 'x', target: '../src/nope.ts#L1' })).toEqual([
      'docs/example.md:3 → ../src/nope.ts#L1: no such file',
    ]);
    expect(checkLink(doc, { line: 4, text: 'x', target: `${target}#L99999` })[0]).toMatch(/lines 99999-99999 are outside/);
    expect(checkLink(doc, { line: 5, text: 'x', target: `${target}#here` })[0]).toMatch(/is not #Lx/);
    expect(checkLink(doc, { line: 6, text: '`export function mlstmSequence`', target: `${target}#L${n + 2}` })).toEqual([
      `docs/example.md:6 → ${target}#L${n + 2}: the linked line does not contain \`export function mlstmSequence\` (it is on line ${n})`,
    ]);
  });

  it('finds links whose text contains brackets', () => {
    expect(markdownLinks('see [`m[k] = a[k]`](../x.ts#L3) and [b](c.md)')).toEqual([
      { line: 1, text: '`m[k] = a[k]`', target: '../x.ts#L3' },
      { line: 1, text: 'b', target: 'c.md' },
    ]);
  });
});

describe('docs/*.md', () => {
  const files = readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(DOCS, f));

  it('docs/mlstm.md links into the code (the check below is not vacuous)', () => {
    const links = markdownLinks(readFileSync(join(DOCS, 'mlstm.md'), 'utf8')).filter((l) => /#L\d+/.test(l.target));
    expect(links.length).toBeGreaterThan(30);
  });

  it('every link points at an existing file, and at the lines holding the code it quotes', () => {
    const problems = files.flatMap((f) => markdownLinks(readFileSync(f, 'utf8')).flatMap((l) => checkLink(f, l)));
    expect(problems).toEqual([]);
  });
});
