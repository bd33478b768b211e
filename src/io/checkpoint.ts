/**
 * Model checkpoints in the contract's format (docs/CONTRACT.md "Checkpoints"): one safetensors file with
 * the parameters in F32 (or, on request, F16/BF16 to halve a shipped file) under their contract names, and `__metadata__` holding `format`
 * (`mlstm-charlm/1`), `config` (JSON) and `vocab` (JSON array) or `tokenizer: "bytes"`. Anything else
 * (optimiser moments, step, data cursor, RNG state) rides along under names that do not start with
 * `embed.`, `layers.` or `head.`, so any safetensors reader still loads the model alone.
 * Runtime-neutral: bytes in, bytes out; src/node/files.ts writes them atomically.
 */
import { Tensor } from '../tensor/tensor.js';
import { Rng } from '../tensor/rng.js';
import { CharLM, validateCharLMConfig, type CharLMConfig } from '../nn/charlm.js';
import type { Vocabulary } from '../data/vocabulary.js';
import { decodeSafetensors, encodeSafetensors, fromTensor, toIntArray, toTensor, type SafetensorsTensor } from './safetensors.js';

export const CHECKPOINT_FORMAT = 'mlstm-charlm/1';
const MODEL_PREFIXES = ['embed.', 'layers.', 'head.'] as const;

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export function isModelTensorName(name: string): boolean {
  return MODEL_PREFIXES.some((p) => name.startsWith(p));
}

export interface CheckpointExtra {
  /**
   * How the parameters are stored: F32 (default, the contract's format), or F16 / BF16 to halve the file
   * (rounded to nearest; every reader here and in tools/torch widens them back to float32 on load). A model
   * shipped in half precision must be evaluated as stored (scripts/train-default-model.mjs does).
   */
  storage?: 'F32' | 'F16' | 'BF16';
  /** Extra tensors (never named `embed.*`, `layers.*`, `head.*`): float32 stored as F32, float64 as F64. */
  tensors?: ReadonlyMap<string, Tensor>;
  /** Extra metadata strings (the reserved keys `format`, `config`, `vocab`, `tokenizer` are refused). */
  metadata?: Record<string, string>;
}

export interface DecodedCheckpoint {
  model: CharLM;
  vocab: Vocabulary;
  config: CharLMConfig;
  /** Non-model tensors; integer entries are widened to float64 tensors (exact up to 2^53). */
  extraTensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** The config as the contract spells it (snake_case `weight_norm`, no training-only fields). */
export function configToJSON(c: CharLMConfig): string {
  return JSON.stringify({ cell: c.cell, weight_norm: c.weightNorm, vocab: c.vocab, embed: c.embed, hidden: c.hidden, layers: c.layers });
}

export function encodeCheckpoint(model: CharLM, vocab: Vocabulary, extra: CheckpointExtra = {}): Uint8Array {
  const size = vocab.kind === 'bytes' ? 256 : vocab.symbols.length;
  if (size !== model.config.vocab) {
    throw new CheckpointError(`encodeCheckpoint: the vocabulary has ${size} symbols but the model's vocab is ${model.config.vocab}`);
  }
  const tensors = new Map<string, SafetensorsTensor>();
  const storage = extra.storage ?? 'F32';
  if (storage !== 'F32' && storage !== 'F16' && storage !== 'BF16')
    throw new CheckpointError(`encodeCheckpoint: storage must be 'F32', 'F16' or 'BF16', got ${JSON.stringify(storage)}`);
  for (const [name, p] of model.namedParameters()) {
    const t = fromTensor(p.value, 'F32');
    tensors.set(name, storage === 'F32' ? t : { ...t, dtype: storage });
  }
  for (const [name, t] of extra.tensors ?? []) {
    if (isModelTensorName(name) || tensors.has(name))
      throw new CheckpointError(`encodeCheckpoint: extra tensor '${name}' uses a name reserved for model parameters`);
    tensors.set(name, fromTensor(t));
  }
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(extra.metadata ?? {})) {
    if (k === 'format' || k === 'config' || k === 'vocab' || k === 'tokenizer')
      throw new CheckpointError(`encodeCheckpoint: metadata key '${k}' is reserved`);
    metadata[k] = v;
  }
  metadata.format = CHECKPOINT_FORMAT;
  metadata.config = configToJSON(model.config);
  if (vocab.kind === 'bytes') metadata.tokenizer = 'bytes';
  else metadata.vocab = JSON.stringify(vocab.symbols);
  return encodeSafetensors(tensors, metadata);
}

function parseJSON(text: string, what: string, from: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${from}: metadata '${what}' is not valid JSON (${(e as Error).message})`);
  }
}

/** Read the `config` metadata into a validated CharLMConfig; errors name the field. */
export function parseCheckpointConfig(metadata: Record<string, string>, from: string): CharLMConfig {
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(
      `${from}: not an mlstm checkpoint (metadata format is ${JSON.stringify(metadata.format ?? null)}, expected "${CHECKPOINT_FORMAT}")`,
    );
  }
  if (metadata.config === undefined) throw new CheckpointError(`${from}: metadata has no 'config'`);
  const raw = parseJSON(metadata.config, 'config', from);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new CheckpointError(`${from}: metadata 'config' must be a JSON object`);
  const o = raw as Record<string, unknown>;
  const config = {
    cell: o.cell,
    weightNorm: o.weight_norm ?? false,
    vocab: o.vocab,
    embed: o.embed,
    hidden: o.hidden,
    layers: o.layers,
  } as CharLMConfig;
  try {
    validateCharLMConfig(config, `${from}: config`);
  } catch (e) {
    throw new CheckpointError((e as Error).message);
  }
  return config;
}

function parseVocabulary(metadata: Record<string, string>, config: CharLMConfig, from: string): Vocabulary {
  if (metadata.tokenizer !== undefined) {
    if (metadata.tokenizer !== 'bytes')
      throw new CheckpointError(`${from}: unknown tokenizer ${JSON.stringify(metadata.tokenizer)} (expected "bytes")`);
    if (config.vocab !== 256) throw new CheckpointError(`${from}: a byte-level checkpoint needs vocab 256, config says ${config.vocab}`);
    return { kind: 'bytes' };
  }
  if (metadata.vocab === undefined) throw new CheckpointError(`${from}: metadata has neither 'vocab' nor 'tokenizer'`);
  const symbols = parseJSON(metadata.vocab, 'vocab', from);
  if (!Array.isArray(symbols) || symbols.some((s) => typeof s !== 'string' || [...s].length !== 1)) {
    throw new CheckpointError(`${from}: metadata 'vocab' must be a JSON array of single-character strings`);
  }
  if (new Set(symbols).size !== symbols.length) throw new CheckpointError(`${from}: metadata 'vocab' repeats a symbol`);
  if (symbols.length !== config.vocab)
    throw new CheckpointError(`${from}: metadata 'vocab' has ${symbols.length} symbols but config.vocab is ${config.vocab}`);
  return { kind: 'chars', symbols: symbols as string[] };
}

/**
 * Rebuild the model from checkpoint bytes. Every way the file can fail to fit (not safetensors, not
 * our format, a bad config or vocab, a missing/unexpected/mis-shaped parameter) is a CheckpointError
 * naming the problem and the source.
 */
export function decodeCheckpoint(bytes: Uint8Array | ArrayBuffer, options: { source?: string } = {}): DecodedCheckpoint {
  const from = options.source ?? 'checkpoint';
  const file = decodeSafetensors(bytes, { source: from });
  const config = parseCheckpointConfig(file.metadata, from);
  const vocab = parseVocabulary(file.metadata, config, from);
  // The parameters overwrite this initialisation, so its seed does not matter.
  const model = new CharLM(config, { rng: new Rng(0) });
  const dict = new Map<string, Tensor>();
  const extraTensors = new Map<string, Tensor>();
  for (const [name, entry] of file.tensors) {
    if (isModelTensorName(name)) {
      if (entry.dtype === 'I32' || entry.dtype === 'I64' || entry.dtype === 'U8' || entry.dtype === 'I8') {
        throw new CheckpointError(`${from}: parameter '${name}' has integer dtype ${entry.dtype}`);
      }
      dict.set(name, toTensor(entry, name));
    } else if (entry.dtype === 'F32' || entry.dtype === 'F64' || entry.dtype === 'F16' || entry.dtype === 'BF16') {
      extraTensors.set(name, toTensor(entry, name));
    } else {
      const ints = toIntArray(entry, name);
      extraTensors.set(name, new Tensor(Float64Array.from(ints), entry.shape));
    }
  }
  try {
    model.loadStateDict(dict, { source: from });
  } catch (e) {
    throw new CheckpointError((e as Error).message);
  }
  const metadata = { ...file.metadata };
  return { model, vocab, config, extraTensors, metadata };
}
