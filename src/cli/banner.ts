import type { CharLM } from '../nn/charlm.js';

/** Thousands separated by commas, whatever the locale of the machine: 12,345. */
export const countFormat = new Intl.NumberFormat('en-US');

/** Trainable numbers of a model (every parameter tensor's size, summed). */
export function parameterCount(model: CharLM): number {
  return model.parameters().reduce((n, p) => n + p.size, 0);
}

/** "weight-normalised mlstm 2×128 (embed 32, 123,456 parameters)": how a command names the model it runs. */
export function modelBanner(model: CharLM): string {
  const c = model.config;
  return `${c.weightNorm ? 'weight-normalised ' : ''}${c.cell} ${c.layers}×${c.hidden} (embed ${c.embed}, ${countFormat.format(parameterCount(model))} parameters)`;
}
