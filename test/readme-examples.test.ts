import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ensureBuilt, ROOT, tempDir } from './cli-helpers.js';
// @ts-expect-error: a plain ES module shared with the Chromium test, no types
import { readmeExample } from './browser/readme-example.mjs';

/*
 * The README's "Use a model in your app" example runs as written, in Node, against the package: a fresh
 * directory whose node_modules/mlstm is this repository (its package.json exports point at dist/). The
 * worker example runs in Chromium (test/browser/model.browser.mjs).
 */
it('README example "node" runs as written and prints a sample, a score, a prediction and a feature size', () => {
  ensureBuilt();
  const dir = tempDir();
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'mlstm'), 'dir');
  const source = (readmeExample as (readme: string, name: string) => string)(readFileSync(join(ROOT, 'README.md'), 'utf8'), 'node');
  writeFileSync(join(dir, 'app.mjs'), source);
  const r = spawnSync(process.execPath, ['app.mjs'], { cwd: dir, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout.length).toBeGreaterThan(200);
  expect(r.stdout).toMatch(/\n\d+\.\d\d bits\/char; 1 unknown: Ç\n/);
  expect(r.stdout).toMatch(/symbol: '.', token: \d+, probability: /);
  expect(r.stdout).toMatch(/\n\d+\n$/);
});
