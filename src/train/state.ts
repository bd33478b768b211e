import { Var } from '../autograd/var.js';
import { formatShape, shapesEqual } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import type { StreamCursor } from '../data/streams.js';
import type { LayerState } from '../nn/state.js';
import type { TrainerOptions } from './options.js';
import type { Trainer } from './trainer.js';

/** Version of the `train` metadata layout. */
export const TRAIN_STATE_VERSION = 1;
/** Prefix of the trainer's own extra tensors (the optimiser's are under `optim.`). */
export const TRAIN_PREFIX = 'train.';

/** The JSON stored under metadata key `train`. */
export interface TrainMetadata {
  version: number;
  step: number;
  cursor: StreamCursor;
  badInARow: number;
  /** State of the dropout generator (four uint32), or null when the run has none. */
  rng: number[] | null;
  /** Fingerprint of the training tokens (count and hash): resuming on other data is refused. */
  data: string;
  options: TrainerOptions;
  /** The model's training-only dropout (not part of the contract's config, so kept here for resume). */
  dropout: number;
  validations: [number, number][];
}

export interface ExportedState {
  /** Optimiser state (`optim.*`), carried state (`train.state.<l>.h|c`), history (`train.bpc`). */
  tensors: Map<string, Tensor>;
  /** `train`: TrainMetadata as JSON. */
  metadata: Record<string, string>;
}

/**
 * Everything a resumed run needs besides the model parameters, as checkpoint extras: tensor names never
 * start with `embed.`, `layers.` or `head.`, so any safetensors reader still sees just the model.
 */
export function exportTrainerState(trainer: Trainer): ExportedState {
  const tensors = trainer.optimizer.stateDict();
  trainer.carriedState.forEach((layer, l) => {
    tensors.set(`${TRAIN_PREFIX}state.${l}.h`, layer.h.value.clone());
    if (layer.c) tensors.set(`${TRAIN_PREFIX}state.${l}.c`, layer.c.value.clone());
  });
  const history = trainer.history;
  tensors.set(`${TRAIN_PREFIX}bpc`, new Tensor(history, [history.length]));
  const meta: TrainMetadata = {
    version: TRAIN_STATE_VERSION,
    step: trainer.step,
    cursor: trainer.streams.cursor,
    badInARow: trainer.consecutiveBadSteps,
    rng: trainer.rng ? trainer.rng.getState() : null,
    data: trainer.dataFingerprint,
    options: trainer.options,
    dropout: trainer.model.config.dropout ?? 0,
    validations: trainer.validationHistory,
  };
  return { tensors, metadata: { train: JSON.stringify(meta) } };
}

/** Read and sanity-check the `train` metadata of a checkpoint (errors name the source). */
export function readTrainMetadata(metadata: Record<string, string>, source: string): TrainMetadata {
  const raw = metadata['train'];
  if (raw === undefined)
    throw new RangeError(`${source} has no training state (it was not written by mlstm train), so it cannot be resumed`);
  let meta: TrainMetadata;
  try {
    meta = JSON.parse(raw) as TrainMetadata;
  } catch {
    throw new RangeError(`${source}: the training state in its metadata is not valid JSON`);
  }
  const ok =
    meta !== null &&
    typeof meta === 'object' &&
    meta.version === TRAIN_STATE_VERSION &&
    Number.isSafeInteger(meta.step) &&
    meta.step >= 0 &&
    Number.isSafeInteger(meta.badInARow) &&
    typeof meta.data === 'string' &&
    meta.cursor !== null &&
    typeof meta.cursor === 'object' &&
    meta.options !== null &&
    typeof meta.options === 'object' &&
    Array.isArray(meta.validations) &&
    typeof meta.dropout === 'number' &&
    (meta.rng === null || (Array.isArray(meta.rng) && meta.rng.length === 4));
  if (!ok)
    throw new RangeError(
      `${source}: the training state in its metadata is malformed or of an unknown version (expected version ${TRAIN_STATE_VERSION})`,
    );
  return meta;
}

/**
 * Restore a run into a freshly built trainer (same model parameters already loaded, same options and
 * data). Checks the data fingerprint, batch and window length, and every tensor's shape.
 */
export function importTrainerState(
  trainer: Trainer,
  tensors: ReadonlyMap<string, Tensor>,
  metadata: Record<string, string>,
  source: string,
): void {
  const meta = readTrainMetadata(metadata, source);
  if (meta.data !== trainer.dataFingerprint) {
    throw new RangeError(
      `${source}: the training text differs from the one this run was trained on (fingerprint ${meta.data}, now ${trainer.dataFingerprint}); resume needs the same --data (and --valid)`,
    );
  }
  for (const key of ['batch', 'seq'] as const) {
    if (meta.options[key] !== trainer.options[key]) {
      throw new RangeError(
        `${source}: the run used --${key} ${meta.options[key]}, not ${trainer.options[key]}; resume needs the same value`,
      );
    }
  }
  trainer.optimizer.loadStateDict(tensors, { source });
  const B = trainer.options.batch;
  const template = trainer.model.zeroState(B);
  const carried: LayerState[] = template.map((layer, l) => {
    const read = (name: string, like: Var): Var => {
      const key = `${TRAIN_PREFIX}state.${l}.${name}`;
      const t = tensors.get(key);
      if (!t) throw new RangeError(`${source}: missing training tensor '${key}'`);
      if (!shapesEqual(t.shape, like.shape))
        throw new RangeError(`${source}: training tensor '${key}' has shape ${formatShape(t.shape)}, expected ${formatShape(like.shape)}`);
      const value = like.value.clone();
      value.data.set(t.data);
      return new Var(value);
    };
    return { h: read('h', layer.h), c: layer.c ? read('c', layer.c) : null };
  });
  const history = tensors.get(`${TRAIN_PREFIX}bpc`);
  if (!history || history.rank !== 1 || history.size !== meta.step) {
    throw new RangeError(`${source}: training tensor '${TRAIN_PREFIX}bpc' is missing or does not have ${meta.step} entries`);
  }
  trainer.streams.seek(meta.cursor);
  if (trainer.rng) {
    if (!meta.rng) throw new RangeError(`${source}: the run saved no random-generator state`);
    trainer.rng.setState(meta.rng);
  }
  trainer.restore({
    step: meta.step,
    badInARow: meta.badInARow,
    carried,
    history: Float32Array.from(history.data),
    validations: meta.validations,
  });
}
