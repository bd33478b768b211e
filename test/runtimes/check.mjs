#!/usr/bin/env node
// "Any JS runtime", checked: the built package (dist/) in whatever runtime runs this file.
//
//   node test/runtimes/check.mjs
//   npx bun test/runtimes/check.mjs
//   npx deno run --allow-read --allow-write --allow-env test/runtimes/check.mjs
//
// 1. Detection: which WebAssembly features the runtime validates (SIMD, relaxed SIMD, a fused relaxed_madd)
//    and so which backend it selects: the wasm backend of mlstm/node (createWasmBackendSync, 'auto': the fused
//    multiply-add module where relaxed_madd validates and rounds once, else the mul+add module) when SIMD
//    validates, else the JS blocked kernel. (The explicit choice stands in for the library's default backend
//    until that lands; it is the same rule.)
// 2. Parity: every case of the golden PyTorch fixtures (test/fixtures, or MLSTM_FIXTURES) on the selected
//    backend, by the parity suite's own code (test/parity-lib.ts, test/parity-charlm.ts) run against dist/:
//    TypeScript's transpileModule strips their types into a temporary folder where `src` is a link to dist/,
//    so their `../src/…` imports load the built package and nothing is copied.
// 3. Training: a short seeded run of a tiny mLSTM (Trainer, Adam, clipping) on each kernel the runtime can
//    run (js; wasm-simd; wasm-simd fma where fused), its losses and a digest of the final parameters' bits.
//
// Prints one line per result, then the whole report as one JSON line (the last line; test/runtimes/runtimes.test.ts
// reads it). Exits 1 when a parity case fails. One thread: no workers (Bun and Deno need none for this).
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const lib = await import(pathToFileURL(join(ROOT, 'dist/index.js')).href);
const node = await import(pathToFileURL(join(ROOT, 'dist/node/index.js')).href);
// detectWasmFeatures is in neither public entry (only the backends are): read from its built module.
const wasm = await import(pathToFileURL(join(ROOT, 'dist/wasm/index.js')).href);

/** Which runtime and JavaScript engine this is. */
function runtime() {
  if (globalThis.Bun !== undefined) return { name: 'bun', version: globalThis.Bun.version, engine: 'JavaScriptCore' };
  if (globalThis.Deno !== undefined) {
    return { name: 'deno', version: globalThis.Deno.version.deno, engine: `V8 ${globalThis.Deno.version.v8}` };
  }
  return { name: 'node', version: process.versions.node, engine: `V8 ${process.versions.v8}` };
}

/** The kernels this runtime can run, by label; `selected` is the one it picks (see the header). */
function backends() {
  node.enableRelaxedSimd(); // Node 20's V8 11.3 has relaxed SIMD behind a flag; elsewhere this only asks
  const features = wasm.detectWasmFeatures();
  const all = [['js', lib.defaultBackend]];
  if (features.simd) all.push(['wasm-simd', node.createWasmBackendSync({ fma: false })]);
  if (features.fusedMultiplyAdd) all.push(['wasm-simd fma', node.createWasmBackendSync({ fma: true })]);
  let selected;
  try {
    selected = node.createWasmBackendSync(); // 'auto'
  } catch (error) {
    selected = lib.defaultBackend;
    features.fallback = String(error?.message ?? error);
  }
  return { features, all, selected, selectedLabel: labelOf(selected) };
}

const labelOf = (backend) => (typeof backend.describe === 'function' ? backend.describe() : 'js');

/**
 * The parity suite's modules, transpiled against dist/: `test/X.ts` → `<tmp>/test/X.js`, following their
 * relative imports inside test/; `<tmp>/src` → dist/ and `<tmp>/node_modules` → the repository's (for
 * fast-check, which a helper imports), `<tmp>/package.json` says ES modules.
 */
async function loadParitySuite() {
  const ts = (await import('typescript')).default;
  const dir = mkdtempSync(join(tmpdir(), 'mlstm-runtimes-'));
  try {
    return await transpileAndLoad(ts, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true }); // the modules are loaded: their files are no longer read
  }
}

async function transpileAndLoad(ts, dir) {
  mkdirSync(join(dir, 'test'));
  symlinkSync(join(ROOT, 'dist'), join(dir, 'src'), 'dir');
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  const pending = ['parity-lib.ts', 'parity-charlm.ts'];
  const done = new Set();
  while (pending.length > 0) {
    const file = pending.pop();
    if (done.has(file)) continue;
    done.add(file);
    const source = readFileSync(join(ROOT, 'test', file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    });
    const out = join(dir, 'test', file.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
    for (const [, spec] of outputText.matchAll(/from\s+'(\.\/[^']+)\.js'/g)) pending.push(`${relative('.', spec)}.ts`);
  }
  const load = (name) => import(pathToFileURL(join(dir, 'test', name)).href);
  const [parity, charlm] = await Promise.all([load('parity-lib.js'), load('parity-charlm.js')]);
  return { parity, charlm };
}

/** Every `*.safetensors` case of the folder on `backend`, as test/parity.test.ts runs them. */
function runParity({ parity, charlm }, backend) {
  const dir = resolve(process.env.MLSTM_FIXTURES ?? join(ROOT, 'test/fixtures'));
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors'))
    .sort();
  if (files.length === 0) throw new Error(`runtime check: no *.safetensors cases in ${dir}`);
  return files.map((file) => {
    const fixture = parity.loadFixture(file.slice(0, -'.safetensors'.length), dir);
    const report = parity.isCellFixture(fixture)
      ? parity.runCellParity(fixture, 'float32', backend)
      : fixture.kind === 'charlm'
        ? charlm.runCharLMParity(fixture, 'float32', backend)
        : { name: fixture.name, kind: fixture.kind, ok: false, checks: [] };
    return { name: report.name, ok: report.ok, summary: parity.summarize(report) };
  });
}

/** FNV-1a over the float32 bits of every parameter: equal digests mean bit-identical parameters. */
function parameterDigest(model) {
  let h = 0x811c9dc5;
  for (const [, p] of model.namedParameters()) {
    const bytes = new Uint8Array(p.value.data.buffer, p.value.data.byteOffset, p.value.data.byteLength);
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

const TRAIN = { steps: 8, batch: 4, seq: 12, embed: 8, hidden: 20, seed: 7, lr: 1e-2 };

/**
 * A short seeded run: a tiny mLSTM (H=20: not a multiple of the wasm GEMM's 4×8 tile, so the edge kernels
 * run too) trained by the Trainer on the first 4000 characters of the bundled corpus, Adam, clip 1.
 */
function train(backend) {
  const { steps, batch, seq, embed, hidden, seed, lr } = TRAIN;
  const text = readFileSync(join(ROOT, 'data/moby-dick.txt'), 'utf8').slice(0, 4000);
  const codec = new lib.TextCodec(lib.buildCharVocabulary(text));
  const { train: tokens, valid } = lib.splitTrainValid(codec.encode(text));
  const model = new lib.CharLM(
    { cell: 'mlstm', weightNorm: false, vocab: codec.size, embed, hidden, layers: 1 },
    { rng: new lib.Rng(seed) },
  );
  const options = {
    batch,
    seq,
    steps,
    optimizer: { name: 'adam', lr },
    schedule: { kind: 'constant', lr },
    clip: 1,
    validEvery: 0,
    validBatch: batch,
    checkpointEvery: 0,
    maxBadSteps: 1,
  };
  const trainer = new lib.Trainer(model, { train: tokens, valid }, options, { tape: new lib.Tape({ backend }) });
  const losses = [];
  for (let s = 0; s < steps; s++) losses.push(trainer.trainStep().loss);
  return { losses, parameters: parameterDigest(model) };
}

const report = { runtime: runtime() };
const { features, all, selected, selectedLabel } = backends();
report.features = features;
report.selected = selectedLabel;
console.log(`${report.runtime.name} ${report.runtime.version} (${report.runtime.engine})`);
console.log(
  `  WebAssembly SIMD ${features.simd ? 'validates' : 'does not validate'}, relaxed SIMD ${features.relaxedSimd ? 'validates' : 'does not validate'}, relaxed_madd ${features.fusedMultiplyAdd ? 'fused' : 'not fused'}: selected backend ${selectedLabel}${features.fallback ? ` (fallback: ${features.fallback})` : ''}`,
);

report.parity = runParity(await loadParitySuite(), selected);
for (const r of report.parity) console.log(`  parity [${selectedLabel}] ${r.summary}`);

report.training = {};
for (const [label, backend] of all) {
  const result = train(backend);
  report.training[label] = result;
  console.log(`  train [${label}] losses ${result.losses.join(' ')}; parameters ${result.parameters}`);
}
for (const [, backend] of all) backend.close?.();
if (selected !== lib.defaultBackend) selected.close?.();

const failed = report.parity.filter((r) => !r.ok).length;
console.log(`  parity: ${report.parity.length - failed} passed, ${failed} failed`);
console.log(JSON.stringify(report));
process.exitCode = failed === 0 ? 0 : 1;
