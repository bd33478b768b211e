/** A tiny mLSTM wired by hand to count the letter 'x', and labelled texts for it (planted-signal tests). */
import { CharLM } from '../src/nn/charlm.js';
import { Rng } from '../src/tensor/rng.js';
import { buildCharVocabulary, TextCodec } from '../src/data/vocabulary.js';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz .';

/** Unit 0 of layer 0 accumulates +1 in c at every 'x' and ~0 elsewhere; everything else is random. */
export function xCounterModel(seed: number): { model: CharLM; codec: TextCodec } {
  const vocab = buildCharVocabulary(ALPHABET);
  const codec = new TextCodec(vocab);
  const H = 5;
  const model = new CharLM(
    { cell: 'mlstm', weightNorm: false, vocab: ALPHABET.length, embed: 3, hidden: H, layers: 1 },
    { rng: new Rng(seed) },
  );
  const p = new Map(model.namedParameters());
  const x = codec.encode('x')[0]!;
  const embed = p.get('embed.weight')!.value.data; // [V,E]
  for (let v = 0; v < ALPHABET.length; v++) embed[v * 3] = v === x ? 1 : 0; // dimension 0 is "is x"
  const whx = p.get('layers.0.whx')!.value.data; // [4H,E]
  const whm = p.get('layers.0.whm')!.value.data; // [4H,H]
  const bias = p.get('layers.0.bias')!.value.data; // [4H]
  for (const gate of [0, 1, 2, 3]) {
    const row = gate * H; // unit 0 of gate block i, f, g, o
    for (let e = 0; e < 3; e++) whx[row * 3 + e] = 0;
    for (let k = 0; k < H; k++) whm[row * H + k] = 0;
  }
  whx[0 * H * 3 + 0] = 20; // i: open on x …
  bias[0 * H] = -10; // … shut otherwise
  bias[1 * H] = 12; // f: keep c
  bias[2 * H] = 10; // g: write +1
  bias[3 * H] = 0;
  return { model, codec };
}

export function xTsv(seed: number, n: number): string {
  const rng = new Rng(seed);
  const plain = ALPHABET.replace('x', '');
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = 10 + rng.int(50);
    const chars = Array.from({ length: len }, () => plain[rng.int(plain.length)]!);
    const has = rng.uniform() < 0.5;
    if (has) chars[rng.int(len)] = 'x';
    lines.push(`${has ? 'with x' : 'without'}\t${chars.join('')}`);
  }
  return `${lines.join('\n')}\n`;
}
