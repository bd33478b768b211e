#!/usr/bin/env node
// mlstm's training speed against PyTorch's, measured in alternation: `npm run build && node bench/peers/ratio.mjs
// [--hidden 256] [--rounds 5] [--json FILE]`.
//
// On a shared virtual machine the speed of a core drifts by tens of percent within minutes, so two rows measured
// minutes apart (npm run bench, then bench/peers/run.mjs) can compare a slow spell with a quick one. Here each round
// measures both, back to back, in a child process each: mlstm's bench row (bench/suites/train.mjs --row mlstm H 2
// wasm: the wasm kernels on 2 threads) and PyTorch's fastest two-core form (torch-train.py H --threads 1
// --blas-threads 2: the products on two OpenBLAS threads); odd rounds start with mlstm, even ones with PyTorch, so
// that a drift across a round falls on each side equally often. Printed: each round's chars/s and ratio, then the
// median ratio over the rounds and its range.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const PYTHON = process.env.PEER_PYTHON ?? '/usr/bin/python3';
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = args[at + 1];
  if (value === undefined) throw new Error(`bench/peers/ratio.mjs: --${name} needs a value`);
  return value;
};
const hidden = Number(option('hidden', '256'));
const rounds = Number(option('rounds', '5'));
const jsonFile = option('json', null);
if (!Number.isInteger(hidden) || hidden < 1) throw new Error(`bench/peers/ratio.mjs: --hidden must be a positive integer`);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`bench/peers/ratio.mjs: --rounds must be a positive integer`);

/** Runs one measurement in a child process and returns the JSON row its last stdout line holds. */
function measure(program, script, scriptArgs) {
  const child = spawnSync(program, [script, ...scriptArgs], { cwd: here, encoding: 'utf8', maxBuffer: 1 << 24 });
  const last = (child.stdout ?? '').trim().split('\n').pop() ?? '';
  if (child.status !== 0 || !last.startsWith('{')) {
    const why = child.error?.message ?? (child.stderr ?? '').trim().split('\n').pop() ?? `exit ${child.status}`;
    throw new Error(`bench/peers/ratio.mjs: ${script} ${scriptArgs.join(' ')} failed: ${why}`);
  }
  return JSON.parse(last);
}
const mlstmRow = () => measure(process.execPath, join(here, '..', 'suites', 'train.mjs'), ['--row', 'mlstm', String(hidden), '2', 'wasm']);
const torchRow = () => measure(PYTHON, join(here, 'torch-train.py'), [String(hidden), '--threads', '1', '--blas-threads', '2']);

console.log(
  `mlstm against PyTorch, mLSTM H=${hidden} training, ${rounds} alternating rounds — Node ${process.version}, load ${os.loadavg()[0].toFixed(2)}`,
);
const results = [];
for (let r = 0; r < rounds; r++) {
  const first = r % 2 === 0 ? 'mlstm' : 'torch';
  const a = first === 'mlstm' ? mlstmRow() : torchRow();
  const b = first === 'mlstm' ? torchRow() : mlstmRow();
  const [ours, theirs] = first === 'mlstm' ? [a, b] : [b, a];
  const ratio = ours.chars_per_s / theirs.chars_per_s;
  results.push({ round: r + 1, first, mlstm: ours, torch: theirs, ratio });
  console.log(
    `  round ${r + 1} (${first} first): mlstm ${ours.backend} ${ours.chars_per_s.toFixed(0)} chars/s, ` +
      `${theirs.system} ${theirs.chars_per_s.toFixed(0)} chars/s: ${ratio.toFixed(2)}× (load ${os.loadavg()[0].toFixed(2)})`,
  );
}
const ratios = results.map((x) => x.ratio).sort((x, y) => x - y);
const median = ratios.length % 2 ? ratios[ratios.length >> 1] : (ratios[ratios.length / 2 - 1] + ratios[ratios.length / 2]) / 2;
console.log(`median ${median.toFixed(2)}× over ${rounds} rounds (range ${ratios[0].toFixed(2)}–${ratios[ratios.length - 1].toFixed(2)}×)`);
if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify({ hidden, rounds: results, median }, null, 2)}\n`);
