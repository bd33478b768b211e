import { loadModel, type TextModel, type TextModelOptions } from './text-model.js';

/**
 * The model shipped in the package, as safetensors bytes for loadModel: an mLSTM trained by this project
 * on the bundled Moby-Dick (models/README.md says its configuration, training and bits per character;
 * scripts/train-default-model.mjs retrains it). The bytes live in a module of their own, imported on the
 * first call, so importing mlstm costs nothing until a page or a script asks for the model; bundlers
 * split it into a chunk of its own. Each call returns a fresh copy.
 */
export async function defaultModel(): Promise<Uint8Array> {
  const { DEFAULT_MODEL_BASE64 } = await import('./default-model-data.js');
  return decodeBase64(DEFAULT_MODEL_BASE64);
}

/** loadModel(await defaultModel()): the shipped model, ready to generate, score and feed. */
export async function loadDefaultModel(options: TextModelOptions = {}): Promise<TextModel> {
  return loadModel(await defaultModel(), { ...options, source: 'the default model' });
}

/** Standard base64 (RFC 4648, with padding) → bytes, through atob (in every browser, worker and Node ≥ 16). */
export function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
