/**
 * Checkpoints cross between mlstm and PyTorch code written from docs/CONTRACT.md alone (python/mlstm_torch):
 * - mlstm → PyTorch: a CharLM built here is saved with encodeCheckpoint; `python3 -m mlstm_torch.eval` loads
 *   it and its float64 logits and bits/char must equal the engine's (relative error ≤ 1e-5, the contract's
 *   forward tolerance);
 * - PyTorch → mlstm: `python3 -m mlstm_torch.write_random` writes a model; decodeCheckpoint loads it and the
 *   engine's logits and bits/char must equal PyTorch's.
 * Every cell kind, with and without weight norm, a character vocabulary with JSON-escaped and astral
 * symbols, and the byte tokenizer. Needs /usr/bin/python3 (or $MLSTM_TORCH_PYTHON) with torch (Debian:
 * python3-torch); without it the suite is reported as skipped with a console line saying why, never passed
 * (test/torch-helpers.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/tensor/rng.js';
import { Tape } from '../src/autograd/tape.js';
import { CharLM, type CharLMConfig } from '../src/nn/charlm.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/io/checkpoint.js';
import { TextCodec, type Vocabulary } from '../src/data/vocabulary.js';
import { evaluate } from '../src/train/evaluate.js';
import { encodeFile } from '../src/cli/files.js';
import { relativeError, requireTorchInCI, runPython, torchAvailable } from './torch-helpers.js';

const torchReady = torchAvailable('torch-interop');
requireTorchInCI(torchReady);

/** The contract's forward tolerance (docs/CONTRACT.md "Tolerances"). */
const FORWARD_TOL = 1e-5;
const T = 11;
const B = 3;
const EVAL_BATCH = 3;
const EVAL_SEQ = 16;
/** Symbols that need JSON escapes (", \n, \\), a non-ASCII BMP letter, a dash and an astral emoji. */
const SYMBOLS = ['\n', ' ', '"', '\\', 'a', 'b', 'c', 'é', '—', '🙂'];

interface Case {
  name: string;
  cell: CharLMConfig['cell'];
  weightNorm: boolean;
  layers: number;
  bytes: boolean;
  seed: number;
}

const CASES: Case[] = [
  { name: 'mlstm, 2 layers', cell: 'mlstm', weightNorm: false, layers: 2, bytes: false, seed: 11 },
  { name: 'mlstm with weight norm, 2 layers', cell: 'mlstm', weightNorm: true, layers: 2, bytes: false, seed: 12 },
  { name: 'lstm, 2 layers', cell: 'lstm', weightNorm: false, layers: 2, bytes: false, seed: 13 },
  { name: 'mrnn, 2 layers', cell: 'mrnn', weightNorm: false, layers: 2, bytes: false, seed: 14 },
  { name: 'mlstm, byte tokenizer', cell: 'mlstm', weightNorm: false, layers: 1, bytes: true, seed: 15 },
];
const EMBED = 5;
const HIDDEN = 7;

function vocabularyOf(c: Case): Vocabulary {
  return c.bytes ? { kind: 'bytes' } : { kind: 'chars', symbols: SYMBOLS };
}

/** A model whose every parameter matters: weights N(0, 1/fan_in), biases N(0, 0.25), gains away from ‖v_row‖. */
function buildModel(c: Case, vocab: number): CharLM {
  const rng = new Rng(c.seed);
  const model = new CharLM({ cell: c.cell, weightNorm: c.weightNorm, vocab, embed: EMBED, hidden: HIDDEN, layers: c.layers }, { rng });
  for (const [name, p] of model.namedParameters()) {
    if (name === 'embed.weight') continue; // N(0,1) already
    if (name.endsWith('.g')) rng.fillUniform(p.value.data, 0.25, 1.75);
    else if (p.value.rank === 2) rng.fillNormal(p.value.data, 0, 1 / Math.sqrt(p.value.shape[1]!));
    else rng.fillNormal(p.value.data, 0, 0.5);
  }
  return model;
}

/** Time-major [T][B] token ids, and the same flattened (row t·B + b) for the engine. */
function tokenGrid(seed: number, V: number): { grid: number[][]; flat: Int32Array } {
  const rng = new Rng(seed);
  const grid = Array.from({ length: T }, () => Array.from({ length: B }, () => rng.int(V)));
  return { grid, flat: Int32Array.from(grid.flat()) };
}

/** A text over SYMBOLS (301 code points: B·⌊N/B⌋ leaves one unscored, as `evaluate` does). */
function sampleText(seed: number): string {
  const rng = new Rng(seed);
  return Array.from({ length: 301 }, () => SYMBOLS[rng.int(SYMBOLS.length)]!).join('');
}

function engineLogits(model: CharLM, tokens: Int32Array): Float32Array | Float64Array {
  const tape = new Tape();
  model.train(false);
  return tape.noGrad(() => model.forward(tape, tokens, T, B, model.zeroState(B)).logits.value.data);
}

function engineBpc(model: CharLM, vocab: Vocabulary, textPath: string): number {
  const tokens = encodeFile(new Uint8Array(readFileSync(textPath)), new TextCodec(vocab), textPath).tokens;
  return evaluate(model, tokens, { batch: EVAL_BATCH, seq: EVAL_SEQ }).bpc;
}

interface PythonResult {
  shape: [number, number];
  logits: number[];
  evaluation: { bpc: number; predictions: number; streams: number };
}

/** `python3 -m <module> args` with the package on PYTHONPATH, its stdout parsed as JSON. */
async function runModule(module: string, args: string[]): Promise<PythonResult> {
  const r = await runPython(['-m', module, ...args]);
  if (r.code !== 0) throw new Error(`${r.command} failed (exit ${r.code}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as PythonResult;
}

describe.skipIf(!torchReady)('checkpoints cross between mlstm and PyTorch (python/mlstm_torch)', () => {
  let dir = '';
  const toTorch = new Map<string, { model: CharLM; vocab: Vocabulary; tokens: Int32Array; text: string; result: Promise<PythonResult> }>();
  const fromTorch = new Map<string, { ckpt: string; tokens: Int32Array; text: string; result: Promise<PythonResult> }>();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mlstm-torch-'));
    // Start every Python process at once (torch takes a second or more to import); the tests await them.
    for (const c of CASES) {
      const vocab = vocabularyOf(c);
      const V = new TextCodec(vocab).size;
      const text = join(dir, `${c.seed}.txt`);
      writeFileSync(text, sampleText(c.seed));
      const { grid, flat } = tokenGrid(c.seed + 100, V);

      const model = buildModel(c, V);
      const ckpt = join(dir, `mlstm-${c.seed}.safetensors`);
      writeFileSync(ckpt, encodeCheckpoint(model, vocab));
      const toArgs = [ckpt, text, '--batch', String(EVAL_BATCH), '--seq', String(EVAL_SEQ), '--dump-logits', JSON.stringify(grid)];
      const result = runModule('mlstm_torch.eval', toArgs);
      result.catch(() => undefined); // awaited (and reported) by its test
      toTorch.set(c.name, { model, vocab, tokens: flat, text, result });

      const pyCkpt = join(dir, `torch-${c.seed}.safetensors`);
      const fromArgs = [
        pyCkpt,
        '--cell',
        c.cell,
        ...(c.weightNorm ? ['--weight-norm'] : []),
        '--embed',
        String(EMBED),
        '--hidden',
        String(HIDDEN),
        '--layers',
        String(c.layers),
        ...(c.bytes ? ['--bytes'] : ['--vocab-json', JSON.stringify(SYMBOLS)]),
        '--seed',
        String(c.seed),
        '--eval-file',
        text,
        '--batch',
        String(EVAL_BATCH),
        '--seq',
        String(EVAL_SEQ),
        '--dump-logits',
        JSON.stringify(grid),
      ];
      const written = runModule('mlstm_torch.write_random', fromArgs);
      written.catch(() => undefined);
      fromTorch.set(c.name, { ckpt: pyCkpt, tokens: flat, text, result: written });
    }
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const c of CASES) {
    it(`mlstm → PyTorch: ${c.name}: same logits and bits/char`, async () => {
      const { model, vocab, tokens, text, result } = toTorch.get(c.name)!;
      const py = await result;
      const logits = engineLogits(model, tokens);
      expect(py.shape).toEqual([T * B, model.config.vocab]);
      const logitErr = relativeError(logits, py.logits);
      const bpc = engineBpc(model, vocab, text);
      const bpcErr = Math.abs(bpc - py.evaluation.bpc) / py.evaluation.bpc;
      console.log(
        `torch-interop mlstm→torch ${c.name}: logits rel err ${logitErr.toExponential(2)}, bpc ${bpc.toFixed(6)} vs ${py.evaluation.bpc.toFixed(6)} (rel ${bpcErr.toExponential(2)})`,
      );
      expect(logitErr).toBeLessThanOrEqual(FORWARD_TOL);
      expect(bpcErr).toBeLessThanOrEqual(FORWARD_TOL);
      expect(py.evaluation.streams).toBe(EVAL_BATCH);

      if (c.cell !== 'mrnn') {
        // The comparison sees the gate order: swapping the i and f blocks of the bias breaks the agreement.
        const bias = model.namedParameters().find(([n]) => n === 'layers.0.bias')![1].value.data;
        const saved = Float64Array.from(bias);
        for (let j = 0; j < HIDDEN; j++) [bias[j], bias[HIDDEN + j]] = [bias[HIDDEN + j]!, bias[j]!];
        expect(relativeError(engineLogits(model, tokens), py.logits)).toBeGreaterThan(1e-3);
        bias.set(saved);
      }
    }, 300_000);

    it(`PyTorch → mlstm: ${c.name}: decodeCheckpoint loads it and gives the same logits and bits/char`, async () => {
      const { ckpt, tokens, text, result } = fromTorch.get(c.name)!;
      const py = await result;
      const loaded = decodeCheckpoint(new Uint8Array(readFileSync(ckpt)), { source: ckpt });
      expect(loaded.config).toEqual({
        cell: c.cell,
        weightNorm: c.weightNorm,
        vocab: py.shape[1],
        embed: EMBED,
        hidden: HIDDEN,
        layers: c.layers,
      });
      expect(loaded.vocab).toEqual(vocabularyOf(c));
      expect([...loaded.extraTensors.keys()]).toEqual(['optim.note']); // the extra tensor rides along, not in the model
      expect(loaded.metadata['writer']).toBe('mlstm_torch');
      const logitErr = relativeError(engineLogits(loaded.model, tokens), py.logits);
      const bpc = engineBpc(loaded.model, loaded.vocab, text);
      const bpcErr = Math.abs(bpc - py.evaluation.bpc) / py.evaluation.bpc;
      console.log(
        `torch-interop torch→mlstm ${c.name}: logits rel err ${logitErr.toExponential(2)}, bpc ${bpc.toFixed(6)} vs ${py.evaluation.bpc.toFixed(6)} (rel ${bpcErr.toExponential(2)})`,
      );
      expect(logitErr).toBeLessThanOrEqual(FORWARD_TOL);
      expect(bpcErr).toBeLessThanOrEqual(FORWARD_TOL);
    }, 300_000);
  }
});
