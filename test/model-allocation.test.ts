import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { ensureBuilt, ROOT } from './cli-helpers.js';

/*
 * Generation allocates nothing per character (the charter: no allocation inside a time loop):
 * Generation.advance (draw with top-K, top-P and temperature, read the token, match stop texts), run from
 * the compiled package in a process of their own as an app runs it, on the default backend and on the
 * wasm backend (whose gemm calls for a step find every operand in its memory). (Inside the test runner, transformed modules and kernels made polymorphic by other
 * tests' float64 models may box numbers that monomorphic code keeps in registers.)
 *
 * Young-generation usage only grows between scavenges, so a run that leaves it (nearly) where it was
 * allocated nothing; a run during which a scavenge ran proves nothing and is tried again. A loop
 * allocating even 16 bytes per character (1.6 MB per run) fills the young generation and never passes.
 */
const CHILD = `
import { getHeapSpaceStatistics } from 'node:v8';
import { CharLM, Rng, TextModel, trainingVocabulary } from './dist/index.js';
import { createWasmBackendSync } from './dist/node/index.js';
const backend = process.argv[1] === 'wasm' ? createWasmBackendSync() : undefined;
const vocab = trainingVocabulary('Call me Ishmael. Some years ago, never mind how long precisely, having little or no money.\\n');
const model = new CharLM({ cell: 'mlstm', weightNorm: false, vocab: vocab.symbols.length, embed: 5, hidden: 12, layers: 2 }, { rng: new Rng(3) });
const api = new TextModel(model, vocab, backend ? { backend } : {});
const g = api.generate({ seed: 1, length: 1e9, topK: 5, topP: 0.9, temperature: 0.8, stop: ['\\n\\n\\n\\n\\n\\n', 'Ishmael'] });
let drawn = 0;
const run = (n) => {
  for (let i = 0; i < n; i++) if (g.advance() >= 0) drawn++;
};
const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_used_size;
run(200000);
const growth = [];
for (let attempt = 0; attempt < 6; attempt++) {
  const before = newSpace();
  run(100000);
  const after = newSpace();
  growth.push(after - before);
  if (after >= before && after - before < 16384) break;
}
console.log(JSON.stringify({ growth, drawn }));
`;

for (const backend of ['default', 'wasm']) {
  it(`100k generated characters (Generation.advance: draw, read, match stop texts) leave the young generation as it was: ${backend} backend`, () => {
    ensureBuilt();
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, backend], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const { growth, drawn } = JSON.parse(r.stdout) as { growth: number[]; drawn: number };
    expect(drawn).toBeGreaterThanOrEqual(300_000);
    expect(growth.at(-1)).toBeGreaterThanOrEqual(0);
    expect(growth.at(-1)).toBeLessThan(16 * 1024);
  });
}
