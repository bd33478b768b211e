import { encodeCheckpoint } from '../io/checkpoint.js';
import type { Vocabulary } from '../data/vocabulary.js';
import type { CharLM } from '../nn/charlm.js';
import { writeFileAtomic } from '../node/files.js';
import { exportTrainerState } from '../train/state.js';
import type { Trainer } from '../train/trainer.js';
import { CliError } from './errors.js';
import { ensureParentDirectory } from './files.js';
import { lossCurvesSvg } from './svg.js';

/** Where a training run is saved: the checkpoint and its loss curves beside it. */
export interface RunFiles {
  checkpoint: string;
  curves: string;
}

/**
 * Save a training run, each file atomically (a crash mid-write leaves the previous one): the model
 * with everything `--resume` needs (exportTrainerState), then the loss curves as SVG.
 */
export async function saveTrainingRun(files: RunFiles, model: CharLM, vocab: Vocabulary, trainer: Trainer, title: string): Promise<void> {
  await writeFileAtomic(files.checkpoint, encodeCheckpoint(model, vocab, exportTrainerState(trainer)));
  const svg = lossCurvesSvg({ train: trainer.history, valid: trainer.validationHistory, title });
  await writeFileAtomic(files.curves, new TextEncoder().encode(svg));
}

/** Write an output file atomically, creating its directory; a failure is one line naming the file. */
export async function writeOutputFile(path: string, bytes: Uint8Array): Promise<void> {
  ensureParentDirectory(path);
  try {
    await writeFileAtomic(path, bytes);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}
