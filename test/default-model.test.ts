import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { decodeBase64, defaultModel, loadDefaultModel } from '../src/model/default-model.js';
import { DEFAULT_MODEL_SHA256 } from '../src/model/default-model-data.js';
import { ROOT } from './cli-helpers.js';

/*
 * The shipped model: the module defaultModel() imports holds exactly the bytes of models/moby-dick.safetensors
 * (scripts/embed-default-model.mjs regenerates it), and they load as a character model that reads any text.
 */
it('defaultModel() is models/moby-dick.safetensors byte for byte, and loads as a TextModel with U+FFFD', async () => {
  const file = new Uint8Array(readFileSync(join(ROOT, 'models', 'moby-dick.safetensors')));
  const bytes = await defaultModel();
  expect(bytes.length).toBe(file.length);
  expect(Buffer.from(bytes).equals(Buffer.from(file))).toBe(true);
  expect(createHash('sha256').update(file).digest('hex')).toBe(DEFAULT_MODEL_SHA256);
  expect(readFileSync(join(ROOT, 'models', 'README.md'), 'utf8')).toContain(DEFAULT_MODEL_SHA256);
  const model = await loadDefaultModel();
  expect(model.vocab.kind).toBe('chars');
  expect(model.symbols).toContain('\uFFFD');
  expect(model.score('Call me Ishmael — 🐳').unknown).toBe(1);
  expect(model.generateText({ length: 50, seed: 1 })).toHaveLength(50);
});

it('decodeBase64 is RFC 4648 base64 (against Buffer)', () => {
  for (const n of [0, 1, 2, 3, 4, 100, 257]) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 255);
    expect(Array.from(decodeBase64(Buffer.from(bytes).toString('base64')))).toEqual(Array.from(bytes));
  }
});
