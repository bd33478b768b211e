#!/usr/bin/env node
/*
 * Moves the line anchors of docs/*.md links to where the code they quote now stands.
 *
 * A link like [`m_t = XM_t ⊙ HM_t`](../src/nn/functional/mlstm.ts#L93) promises that the linked lines
 * hold that code (test/docs-links.test.ts checks it). When an edit (or the formatter) moves the code,
 * this finds the quoted code again (whitespace-insensitive, as the test compares) and rewrites the
 * anchor to the smallest run of lines that holds it: #Lx when one line does, #Lx-Ly when the code now
 * spans several. A quote that stands in several places (a call written twice) keeps its occurrence:
 * if the old anchor pointed at the k-th place in the file as committed (git HEAD, or --base REV), it
 * points at the k-th place now, provided the file holds as many as before. A quote found nowhere, or
 * whose occurrence cannot be told that way, is reported and left as it is (exit code 1), so a moved
 * line is never silently re-aimed at a different one. Links whose text is not a code span are left alone.
 *
 *   node scripts/relink-docs.mjs [--base REV]          rewrite the anchors in place
 *   node scripts/relink-docs.mjs [--base REV] --check  only report what would change (exit 1 if anything would)
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DOCS = join(ROOT, 'docs');
const check = process.argv.includes('--check');
const baseAt = process.argv.indexOf('--base');
const base = baseAt >= 0 ? process.argv[baseAt + 1] : 'HEAD';

/** The lines of `file` as committed at `base` (undefined when git has no such file there). */
function committedLines(file) {
  try {
    return execFileSync('git', ['show', `${base}:${relative(ROOT, file)}`], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).split('\n');
  } catch {
    return undefined;
  }
}
const squash = (s) => s.replace(/\s+/g, '');

/** Every [from, to] (1-based, inclusive) minimal run of lines whose squashed text holds `code`. */
function runsHolding(lines, code) {
  const want = squash(code);
  const runs = [];
  for (let from = 0; from < lines.length; from++) {
    let text = '';
    for (let to = from; to < lines.length && to < from + 12; to++) {
      text += squash(lines[to]);
      if (text.includes(want)) {
        // Minimal: dropping the first line must lose it (else a later start is the run).
        if (!squash(lines.slice(from + 1, to + 1).join('')).includes(want)) runs.push([from + 1, to + 1]);
        break;
      }
      if (text.length > want.length + 4000) break;
    }
  }
  return runs;
}

const anchorOf = ([from, to]) => (from === to ? `L${from}` : `L${from}-L${to}`);
const linkRe = /\[((?:[^[\]]|\[[^\]]*\])*)\]\(([^)\s#]+)#(L\d+(?:-L\d+)?)\)/g;
let problems = 0;
let changed = 0;

for (const name of readdirSync(DOCS).filter((f) => f.endsWith('.md'))) {
  const docFile = join(DOCS, name);
  const doc = readFileSync(docFile, 'utf8');
  const fileLines = new Map();
  const out = doc.replace(linkRe, (whole, text, path, anchor) => {
    const code = /^`([^`]+)`$/.exec(text);
    if (!code || /^[a-z]+:/i.test(path)) return whole;
    const file = resolve(dirname(docFile), path);
    let lines = fileLines.get(file);
    if (lines === undefined) {
      lines = readFileSync(file, 'utf8').split('\n');
      fileLines.set(file, lines);
    }
    const [, a, b] = /^L(\d+)(?:-L(\d+))?$/.exec(anchor);
    const old = [Number(a), Number(b ?? a)];
    const runs = runsHolding(lines, code[1]);
    if (runs.some(([f, t]) => f >= old[0] && t <= old[1])) return whole; // still true
    const where = `${relative(ROOT, docFile)} → ${path}#${anchor} (${code[1]})`;
    let run = runs.length === 1 ? runs[0] : undefined;
    if (runs.length > 1) {
      const before = committedLines(file);
      const oldRuns = before === undefined ? [] : runsHolding(before, code[1]);
      const k = oldRuns.findIndex(([f, t]) => f >= old[0] && t <= old[1]);
      if (k >= 0 && oldRuns.length === runs.length) run = runs[k];
    }
    if (run === undefined) {
      problems++;
      console.error(
        `${where}: the quoted code stands ${runs.length === 0 ? 'nowhere' : `in ${runs.length} places`} in ${path}; fix this link by hand`,
      );
      return whole;
    }
    changed++;
    console.log(`${where} → #${anchorOf(run)}`);
    return `[${text}](${path}#${anchorOf(run)})`;
  });
  if (!check && out !== doc) writeFileSync(docFile, out);
}
if (check && changed > 0) process.exitCode = 1;
if (problems > 0) process.exitCode = 1;
