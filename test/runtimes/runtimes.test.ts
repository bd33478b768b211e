import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from '../cli-helpers.js';

/*
 * "Any JS runtime", tested: test/runtimes/check.mjs (the parity suite on the golden fixtures and a short
 * seeded training run, against dist/) under Node, Bun (JavaScriptCore) and Deno, whose binaries come with
 * the `bun` and `deno` dev dependencies. Each runtime runs the backend it selects; Bun runs twice more with
 * JavaScriptCore's own switches turning off relaxed SIMD and then SIMD itself, so the detection's other
 * outcomes (the mul+add module, the JS fallback) run in a real engine too. Asserted: every parity case passes
 * everywhere; each run says which backend it selected, and that is the one its detected features imply;
 * runs that selected the same kernels, and every kernel run in several runtimes, give bit-identical losses
 * and final parameters.
 */

interface Report {
  runtime: { name: string; version: string; engine: string };
  features: { simd: boolean; relaxedSimd: boolean; fusedMultiplyAdd: boolean; fallback?: string };
  selected: string;
  parity: { name: string; ok: boolean; summary: string }[];
  training: Record<string, { losses: number[]; parameters: string }>;
}

interface Run {
  label: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** The backend this configuration must select, where the configuration forces it. */
  expect?: string;
}

const CHECK = join(ROOT, 'test/runtimes/check.mjs');
const BIN = join(ROOT, 'node_modules/.bin');
const RUNS: Run[] = [
  { label: 'node', command: process.execPath, args: [CHECK] },
  { label: 'bun', command: join(BIN, 'bun'), args: [CHECK] },
  {
    label: 'deno',
    command: join(BIN, 'deno'),
    // Read: dist, fixtures, corpus, node_modules; write: the temporary folder of the transpiled parity
    // suite (unscoped: Deno refuses symlinkSync under a path-scoped --allow-write); env: MLSTM_FIXTURES,
    // TMPDIR. Nothing from the network.
    args: ['run', '--no-prompt', '--no-remote', '--allow-read', '--allow-write', '--allow-env', CHECK],
    env: { DENO_NO_UPDATE_CHECK: '1' },
  },
  // JavaScriptCore options (Bun reads BUN_JSC_<option>; bun is pinned in package-lock.json).
  {
    label: 'bun, relaxed SIMD off',
    command: join(BIN, 'bun'),
    args: [CHECK],
    env: { BUN_JSC_useWasmRelaxedSIMD: 'false' },
    expect: 'wasm-simd',
  },
  { label: 'bun, SIMD off', command: join(BIN, 'bun'), args: [CHECK], env: { BUN_JSC_useWasmSIMD: 'false' }, expect: 'js' },
];

const FIXTURES = readdirSync(join(ROOT, 'test/fixtures')).filter((f) => f.endsWith('.safetensors')).length;

function runCheck(run: Run): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(run.command, run.args, { cwd: ROOT, env: { ...process.env, ...run.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const reports = new Map<string, Report>();

beforeAll(async () => {
  ensureBuilt();
  // Concurrently: each check is one thread for a few seconds.
  const results = await Promise.all(RUNS.map(runCheck));
  results.forEach((r, i) => {
    const run = RUNS[i]!;
    const last = r.stdout.trim().split('\n').pop() ?? '';
    if (r.code !== 0 || !last.startsWith('{')) {
      throw new Error(`${run.label}: ${[run.command, ...run.args].join(' ')} exited ${r.code}\n${r.stdout}${r.stderr}`);
    }
    reports.set(run.label, JSON.parse(last) as Report);
    console.log(
      r.stdout
        .split('\n')
        .filter((l) => !l.startsWith('{') && !l.includes('parity ['))
        .join('\n'),
    );
  });
}, 240_000);

/** The label of the backend that `chooseMultiplyAdd` picks for these features ('auto'). */
const implied = (f: Report['features']): string => (!f.simd ? 'js' : f.fusedMultiplyAdd ? 'wasm-simd fma' : 'wasm-simd');

describe.each(RUNS.map((r) => [r.label, r] as const))('%s', (label, run) => {
  it('runs in the runtime it names and says which backend it selected, the one its features imply', () => {
    const report = reports.get(label)!;
    expect(report.runtime.name).toBe(label.split(',')[0]);
    expect(report.selected).toBe(implied(report.features));
    if (run.expect) expect(report.selected).toBe(run.expect);
    if (report.selected === 'js') expect(report.features.fallback).toMatch(/does not validate WebAssembly SIMD/);
    // The training ran on the selected kernels (and on every other one this runtime offers).
    expect(Object.keys(report.training)).toContain(report.selected);
  });

  it(`passes every parity case on the selected backend (${FIXTURES} fixtures)`, () => {
    const report = reports.get(label)!;
    expect(report.parity).toHaveLength(FIXTURES);
    for (const p of report.parity) expect(p.ok, `${label}: ${p.summary}`).toBe(true);
  });
});

describe('across runtimes', () => {
  it('Node and Deno (V8) select a wasm backend: WebAssembly SIMD validates there', () => {
    expect(reports.get('node')!.selected).toMatch(/^wasm-simd/);
    expect(reports.get('deno')!.selected).toMatch(/^wasm-simd/);
  });

  it('runs that selected the same kernels give bit-identical losses and parameters', () => {
    const bySelected = new Map<string, string[]>();
    for (const [label, r] of reports) bySelected.set(r.selected, [...(bySelected.get(r.selected) ?? []), label]);
    let compared = 0;
    for (const [selected, labels] of bySelected) {
      const [first, ...rest] = labels.map((l) => ({ l, t: reports.get(l)!.training[selected]! }));
      for (const other of rest) {
        expect(other.t.losses, `${other.l} vs ${first!.l} on ${selected}`).toEqual(first!.t.losses);
        expect(other.t.parameters, `${other.l} vs ${first!.l} on ${selected}`).toBe(first!.t.parameters);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(0);
  });

  it('every kernel gives bit-identical losses and parameters in every runtime that runs it', () => {
    const kernels = new Set([...reports.values()].flatMap((r) => Object.keys(r.training)));
    for (const kernel of kernels) {
      const runs = [...reports].filter(([, r]) => r.training[kernel]).map(([l, r]) => ({ l, t: r.training[kernel]! }));
      for (const other of runs.slice(1)) {
        expect(other.t.losses, `${other.l} vs ${runs[0]!.l} on ${kernel}`).toEqual(runs[0]!.t.losses);
        expect(other.t.parameters, `${other.l} vs ${runs[0]!.l} on ${kernel}`).toBe(runs[0]!.t.parameters);
      }
    }
    // Not vacuous: the JS kernel runs in all five, the mul+add module in the four with SIMD.
    expect([...reports.values()].filter((r) => r.training['js']).length).toBe(RUNS.length);
    expect([...reports.values()].filter((r) => r.training['wasm-simd']).length).toBe(RUNS.length - 1);
  });

  it('the training really trained: finite losses that fall, and kernels that differ in rounding differ in bits', () => {
    const node = reports.get('node')!;
    const losses = node.training['js']!.losses;
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]!);
    // The JS kernel and the wasm modules sum in different orders: equal digests would mean one ran twice.
    expect(node.training['wasm-simd']!.parameters).not.toBe(node.training['js']!.parameters);
  });
});
