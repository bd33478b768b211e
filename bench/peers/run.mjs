#!/usr/bin/env node
// Peers on the same work as mlstm's bench: `npm --prefix bench/peers ci && node bench/peers/run.mjs [--json FILE]
// [--only PREFIX,…]`. Each measurement runs in a child process of its own (so its peak RSS is its own) and prints
// one JSON line; a measurement that fails is reported with the error's first line instead of a number.
// `.py` measurements run under PEER_PYTHON (default /usr/bin/python3, Debian's, whose python3-torch they use).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const MEASUREMENTS = [
  ['tfjs-matmul.mjs', 'cpu'],
  ['tfjs-matmul.mjs', 'wasm'],
  // PyTorch: --threads sets torch.set_num_threads (its OpenMP pool), --blas-threads OpenBLAS's own pthread pool
  // (default: the same). Two cores are measured both ways: torch ×1 + BLAS ×2 (products on two threads) and the
  // plain torch.set_num_threads(2), whose two spinning pools oversubscribe a busy 2-core machine (README.md).
  ['torch-matmul.py', '512', '--threads', '1'],
  ['torch-matmul.py', '512', '--threads', '1', '--blas-threads', '2'],
  ['tfjs-train.mjs', 'cpu'],
  ['tfjs-train.mjs', 'wasm'],
  ['torch-train.py', '256', '--threads', '1'],
  ['torch-train.py', '256', '--threads', '1', '--blas-threads', '2'],
  ['torch-train.py', '256', '--threads', '2'],
  ['torch-train.py', '512', '--threads', '1'],
  ['torch-train.py', '512', '--threads', '1', '--blas-threads', '2'],
  ['torch-train.py', '512', '--threads', '2'],
  ['brain-train.mjs'],
];
const PYTHON = process.env.PEER_PYTHON ?? '/usr/bin/python3';

const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : null;
if (jsonAt >= 0 && !jsonFile) throw new Error('bench/peers/run.mjs: --json needs a file name');
// --only PREFIX[,PREFIX…]: the measurements whose label (script and arguments, as printed) starts with one of
// them, e.g. `--only torch` or `--only 'torch,tfjs-train wasm,brain'`.
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? (args[onlyAt + 1] ?? '').split(',').filter(Boolean) : null;
if (only !== null && only.length === 0) throw new Error('bench/peers/run.mjs: --only needs label prefixes, e.g. torch');
const labelOf = ([script, ...scriptArgs]) => [script.replace(/\.(mjs|py)$/, ''), ...scriptArgs].join(' ');
const selected = MEASUREMENTS.filter((m) => only === null || only.some((prefix) => labelOf(m).startsWith(prefix)));
if (selected.length === 0) throw new Error(`bench/peers/run.mjs: no measurement's label starts with ${only.join(' or ')}`);

console.log(
  `mlstm bench peers — Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} logical CPUs, load average ${os.loadavg()[0].toFixed(2)}`,
);
const rows = [];
for (const [script, ...scriptArgs] of selected) {
  const label = labelOf([script, ...scriptArgs]);
  process.stderr.write(`  ${label} …\n`);
  const program = script.endsWith('.py') ? PYTHON : process.execPath;
  const child = spawnSync(program, [join(here, script), ...scriptArgs], { cwd: here, encoding: 'utf8', maxBuffer: 1 << 24 });
  const last = (child.stdout ?? '').trim().split('\n').pop() ?? '';
  if (child.status === 0 && last.startsWith('{')) {
    rows.push(JSON.parse(last));
  } else {
    const stderr = child.error ? `${child.error.message}\n` : child.stderr; // child.error: could not start it
    const error = (stderr.split('\n').find((l) => /Error/.test(l)) ?? stderr.trim().split('\n').pop() ?? `exit ${child.status}`).trim();
    rows.push({ system: label, what: 'failed', error });
  }
}

const columns = [
  ['system', 'system'],
  ['what', 'work'],
  ['gflops', 'GFLOP/s'],
  ['chars_per_s', 'chars/s'],
  ['step_ms', 'ms/step'],
  ['peak_rss_mb', 'peak RSS MB'],
  ['load', 'load avg'],
  ['error', 'error'],
];
const cell = (v) =>
  v === undefined || v === null
    ? '—'
    : typeof v === 'number'
      ? Number.isInteger(v)
        ? String(v)
        : v >= 100
          ? v.toFixed(0)
          : v.toFixed(2)
      : String(v);
const table = [columns.map(([, title]) => title), ...rows.map((r) => columns.map(([key]) => cell(r[key])))];
const widths = columns.map((_, i) => Math.max(...table.map((r) => r[i].length)));
const line = (r) => r.map((v, i) => (i < 2 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
console.log(['', line(table[0]), line(widths.map((w) => '-'.repeat(w))), ...table.slice(1).map(line)].join('\n'));
if (jsonFile) {
  writeFileSync(jsonFile, `${JSON.stringify(rows, null, 2)}\n`);
  console.log(`\nwrote ${jsonFile}`);
}
