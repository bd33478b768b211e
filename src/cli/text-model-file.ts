import { loadDefaultModel } from '../model/default-model.js';
import { TextModel } from '../model/text-model.js';
import type { Backend } from '../tensor/backend.js';
import { loadCheckpointFile } from './checkpoint-file.js';

/** The model a command runs: a checkpoint file, or (no path) the model shipped in the package. */
export interface CommandModel {
  model: TextModel;
  /** How reports name it: the path, or 'the default model'. */
  name: string;
}

/** TextModel of the checkpoint at `path` (one clear line if it is not usable), or the shipped model. */
export async function loadTextModel(path: string | undefined, backend?: Backend): Promise<CommandModel> {
  const options = backend ? { backend } : {};
  if (path === undefined) return { model: await loadDefaultModel(options), name: 'the default model' };
  const { model, vocab } = loadCheckpointFile(path);
  return { model: new TextModel(model, vocab, options), name: path };
}
