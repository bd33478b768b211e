/**
 * docs/CONTRACT.md is the project's copy of the numeric contract (names, layouts, tolerances, the
 * checkpoint format) that the source comments cite. The contract itself is kept beside the
 * repository, in ../shared/spec/CONTRACT.md, where the team has it; a clone has only the copy. This
 * test keeps the copy identical to that newest version wherever it exists.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const COPY = join(ROOT, 'docs', 'CONTRACT.md');
const UPSTREAM = process.env['MLSTM_CONTRACT'] ?? join(ROOT, '..', 'shared', 'spec', 'CONTRACT.md');

describe('docs/CONTRACT.md', () => {
  it('is the contract: its title and the sections the source comments cite', () => {
    const text = readFileSync(COPY, 'utf8');
    expect(text.startsWith('# The numeric contract\n')).toBe(true);
    for (const section of ['Checkpoints', 'Tolerances', 'Fixture files']) expect(text).toContain(section);
  });

  it.skipIf(!existsSync(UPSTREAM))(`matches the newest contract (${UPSTREAM}) byte for byte`, () => {
    expect(readFileSync(COPY, 'utf8')).toBe(readFileSync(UPSTREAM, 'utf8'));
  });

  it('is what the source comments point to: no comment cites the contract outside this repository', () => {
    const offenders = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((path) => path.endsWith('.ts'))
      .filter((path) => /shared\/spec\/CONTRACT\.md|(?<![\w/])CONTRACT\.md/.test(readFileSync(join(ROOT, 'src', path), 'utf8')))
      .map((path) => `src/${path}`);
    expect(offenders).toEqual([]);
  });
});
