/**
 * Distributed training with PyTorch DDP (python/mlstm_torch/train.py), proved on this machine with gloo and
 * 2 CPU processes:
 * - N ranks × B/N streams compute what 1 rank × B streams computes, step for step, for 20 steps with all three
 *   dropouts on: in float64 to 1e-12 (the ranks sum the same products in another order, so only rounding can
 *   differ; float64 rounding over 20 steps stays near 1e-15), and in float32, the mode people train in, to
 *   1e-5 (the contract's forward tolerance; measured ≈ 1e-7);
 * - the DDP checkpoint loads in `mlstm eval` and `mlstm sample`, and `mlstm eval` reports the bits/char
 *   PyTorch reports (to 1e-4; measured ≈ 1e-8), statically and with dynamic evaluation;
 * - a checkpoint of `mlstm train` continues under DDP as it does under `mlstm train --resume`, and a DDP
 *   checkpoint continues under `mlstm train --resume` as it does under DDP (and on one rank): the two engines
 *   agree on the training bits/char of the continued steps to 1e-5 and on the parameters' movement to 1e-3
 *   (the contract's forward and parameter-movement tolerances; float32 in both, different summation orders;
 *   measured ≈ 2e-7 and ≈ 6e-7).
 * Skipped (with a console line) only where torch is absent; CI requires it (MLSTM_REQUIRE_TORCH=1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors } from '../src/io/safetensors.js';
import { decodeCheckpoint } from '../src/io/checkpoint.js';
import { ensureBuilt, ROOT, runCli, type RunResult } from './cli-helpers.js';
import { freePort, relativeError, requireTorchInCI, runPython, torchAvailable, type ProcessResult } from './torch-helpers.js';
import { wordCorpus } from './train-helpers.js';

const torchReady = torchAvailable('torch-ddp');
requireTorchInCI(torchReady);

const MODEL = ['--hidden', '12', '--embed', '6', '--layers', '2', '--batch', '4', '--seq', '10', '--lr', '0.01'];
const DROPOUT = ['--dropout', '0.1', '--embed-dropout', '0.1', '--hidden-dropout', '0.2'];
const QUIET = ['--valid-every', '5', '--log-every', '100'];

/**
 * N ranks of `python3 -m mlstm_torch.train args`, started as torchrun starts its workers (RANK, LOCAL_RANK,
 * WORLD_SIZE, MASTER_ADDR/PORT, OMP_NUM_THREADS=1; env:// rendezvous) but without torchrun's agent process,
 * which would cost every run one more torch start-up on this 2-core machine; the README test below runs
 * the real launcher. The result is rank 0's output, with a non-zero code if any rank failed.
 */
async function ddp(nproc: number, args: readonly string[]): Promise<ProcessResult> {
  const port = await freePort();
  const env = (rank: number): Record<string, string> => ({
    RANK: String(rank),
    LOCAL_RANK: String(rank),
    WORLD_SIZE: String(nproc),
    LOCAL_WORLD_SIZE: String(nproc),
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(port),
    OMP_NUM_THREADS: '1',
  });
  const ranks = await Promise.all(
    Array.from({ length: nproc }, (_, r) => runPython(['-m', 'mlstm_torch.train', ...args], { env: env(r) })),
  );
  const failed = ranks.find((r) => r.code !== 0);
  return { ...ranks[0]!, code: failed ? failed.code : 0, stderr: ranks.map((r, i) => `[rank ${i}] ${r.stderr}`).join('\n') };
}

/**
 * Two "nodes" of one rank each, as on two machines: two launchers (`python3 -m mlstm_torch.launch --nnodes 2
 * --nproc_per_node 1`) meeting at a c10d rendezvous on localhost. The result is the output of the node that
 * holds rank 0, with a non-zero code if either failed.
 */
async function twoNodes(args: readonly string[]): Promise<ProcessResult> {
  const port = await freePort();
  const launch = ['-m', 'mlstm_torch.launch', '--nnodes', '2', '--nproc_per_node', '1', '--rdzv_backend', 'c10d'];
  const rendezvous = ['--rdzv_endpoint', `127.0.0.1:${port}`, '--rdzv_id', `mlstm-test-${port}`, '--monitor_interval', '0.2'];
  const nodes = await Promise.all([0, 1].map(() => runPython([...launch, ...rendezvous, '-m', 'mlstm_torch.train', ...args])));
  const failed = nodes.find((r) => r.code !== 0);
  const main = nodes.find((r) => r.stdout.includes('DDP on')) ?? nodes[0]!;
  return { ...main, code: failed ? failed.code : 0, stderr: nodes.map((r, i) => `[node ${i}] ${r.stderr}`).join('\n') };
}

/** One process, no torchrun: a world of one. */
function single(args: readonly string[]): Promise<ProcessResult> {
  return runPython(['-m', 'mlstm_torch.train', '--threads', '1', ...args]);
}

function ok<R extends ProcessResult | RunResult>(r: R, what: string): R {
  expect(r.code, `${what} failed:\n${'command' in r ? r.command : ''}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

interface StepLog {
  step: number;
  loss: number;
  grad_norm: number;
  skipped: boolean;
}

function stepLog(path: string): StepLog[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as StepLog);
}

/** Every float tensor of a safetensors file, by name, as float64 arrays. */
function floats(path: string): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  for (const [name, t] of decodeSafetensors(readFileSync(path)).tensors) {
    if (t.dtype === 'F32' || t.dtype === 'F64') out.set(name, Float64Array.from(t.data as Float32Array | Float64Array));
  }
  return out;
}

function metadataOf(path: string): Record<string, string> {
  return decodeSafetensors(readFileSync(path)).metadata;
}

/** The largest per-tensor relative error over the tensors whose names pass `keep`, with its name. */
function worst(a: Map<string, Float64Array>, ref: Map<string, Float64Array>, keep: (name: string) => boolean): [string, number] {
  const names = [...ref.keys()].filter(keep);
  expect(names.length).toBeGreaterThan(0);
  let result: [string, number] = [names[0]!, 0];
  for (const name of names) {
    expect(a.has(name), name).toBe(true);
    const e = relativeError(a.get(name)!, ref.get(name)!);
    if (!(e <= result[1])) result = [name, e];
  }
  return result;
}

const isParameter = (n: string): boolean => n.startsWith('embed.') || n.startsWith('layers.') || n.startsWith('head.');

/** Relative error of the parameter movement from `start`: (a − start) against (ref − start), worst tensor. */
function worstMovement(a: Map<string, Float64Array>, ref: Map<string, Float64Array>, start: Map<string, Float64Array>): [string, number] {
  const moved = (m: Map<string, Float64Array>): Map<string, Float64Array> =>
    new Map([...m].filter(([n]) => isParameter(n)).map(([n, v]) => [n, v.map((x, i) => x - start.get(n)![i]!)]));
  return worst(moved(a), moved(ref), () => true);
}

describe.skipIf(!torchReady)('PyTorch DDP (gloo, 2 CPU processes) and mlstm', () => {
  let dir = '';
  let corpus = '';
  let validText = '';
  const p = (name: string): string => join(dir, name);
  const runs = new Map<string, Promise<ProcessResult>>();
  const jsRuns = new Map<string, Promise<RunResult>>();

  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'mlstm-ddp-'));
    corpus = p('corpus.txt');
    const text = wordCorpus(6000, 5);
    writeFileSync(corpus, text);
    validText = p('valid.txt');
    writeFileSync(validText, text.slice(text.length - Math.floor(text.length * 0.05))); // the split of --data
    const data = ['--data', corpus, ...MODEL, ...QUIET];
    // Started at once; each test awaits what it needs (torch takes a second or more to start per process).
    for (const dtype of ['float64', 'float32']) {
      const common = [...data, ...DROPOUT, '--weight-norm', '--steps', '20', '--dtype', dtype, '--seed', '3'];
      const files = (tag: string): string[] => [
        '--out',
        p(`${tag}.safetensors`),
        '--log-json',
        p(`${tag}.jsonl`),
        '--exact-out',
        p(`${tag}.exact`),
      ];
      runs.set(`one-${dtype}`, single([...common, ...files(`one-${dtype}`)]));
      runs.set(`two-${dtype}`, ddp(2, [...common, ...files(`two-${dtype}`)]));
    }
    // Step-10 checkpoints of mlstm train and of DDP, each continued to step 20 by several engines.
    const resumeWith = {
      js: (out: string) => runCli(['train', ...data, '--out', out, '--resume', '--steps', '20', '--threads', '1']),
      ddp: (out: string) => ddp(2, [...data, '--out', out, '--resume', '--steps', '20']),
      one: (out: string) => single([...data, '--out', out, '--resume', '--steps', '20']),
    };
    /** Once `start` is written, copy it to `tag` and continue that copy with `engine`. */
    const continued = <R>(started: Promise<unknown>, start: string, tag: string, engine: (out: string) => Promise<R>): Promise<R> =>
      started.then(() => {
        copyFileSync(p(`${start}.safetensors`), p(`${tag}.safetensors`));
        return engine(p(`${tag}.safetensors`));
      });
    const js10 = runCli(['train', ...data, '--out', p('js10.safetensors'), '--steps', '10', '--threads', '1']).then((r) =>
      ok(r, 'mlstm train'),
    );
    const ddp10 = ddp(2, [...data, '--out', p('ddp10.safetensors'), '--steps', '10', '--seed', '4']).then((r) => ok(r, 'DDP'));
    jsRuns.set('js-then-js', continued(js10, 'js10', 'js-then-js', resumeWith.js));
    runs.set('js-then-ddp', continued(js10, 'js10', 'js-then-ddp', resumeWith.ddp));
    jsRuns.set('ddp-then-js', continued(ddp10, 'ddp10', 'ddp-then-js', resumeWith.js));
    runs.set('ddp-then-ddp', continued(ddp10, 'ddp10', 'ddp-then-ddp', resumeWith.ddp));
    runs.set('ddp-then-one', continued(ddp10, 'ddp10', 'ddp-then-one', resumeWith.one));
    const nodes = (out: string): Promise<ProcessResult> => twoNodes([...data, '--out', out, '--resume', '--steps', '20']);
    runs.set('ddp-then-nodes', continued(ddp10, 'ddp10', 'ddp-then-nodes', nodes));
    for (const r of [...runs.values(), ...jsRuns.values()]) r.catch(() => undefined); // awaited (and reported) by the tests
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const [dtype, tol] of [
    ['float64', 1e-12],
    ['float32', 1e-5],
  ] as const) {
    it(`2 ranks × 2 streams = 1 rank × 4 streams for 20 steps (${dtype}, all three dropouts): losses, weights, optimiser and carried state to ${tol}`, async () => {
      const one = ok(await runs.get(`one-${dtype}`)!, `1 rank ${dtype}`);
      const two = ok(await runs.get(`two-${dtype}`)!, `2 ranks ${dtype}`);
      expect(one.stdout).toMatch(/; one process \(cpu\);/);
      expect(two.stdout).toMatch(/; DDP on 2 ranks x 2 streams \(gloo, cpu\);/);
      expect(JSON.parse(metadataOf(p(`two-${dtype}.safetensors`))['train']!)).toMatchObject({ step: 20, torch: { world_size: 2 } });

      const a = stepLog(p(`one-${dtype}.jsonl`));
      const b = stepLog(p(`two-${dtype}.jsonl`));
      expect(a.map((s) => s.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(b.map((s) => s.step)).toEqual(a.map((s) => s.step));
      const lossErr = Math.max(...a.map((s, i) => Math.abs(b[i]!.loss - s.loss) / s.loss));
      const normErr = Math.max(...a.map((s, i) => Math.abs(b[i]!.grad_norm - s.grad_norm) / s.grad_norm));
      expect(a.some((s) => s.skipped)).toBe(false);

      const [wName, wErr] = worst(floats(p(`two-${dtype}.exact`)), floats(p(`one-${dtype}.exact`)), () => true);
      const ckOne = floats(p(`one-${dtype}.safetensors`));
      const ckTwo = floats(p(`two-${dtype}.safetensors`));
      // Optimiser moments and the carried state of all 4 streams (gathered from the ranks), as stored (F32).
      const stored = dtype === 'float64' ? 1e-6 : tol;
      const [oName, oErr] = worst(ckTwo, ckOne, (n) => n.startsWith('optim.') || n.startsWith('train.state.'));
      console.log(
        `torch-ddp ${dtype}: 1 vs 2 ranks, 20 steps: loss rel ${lossErr.toExponential(2)}, grad norm rel ${normErr.toExponential(2)}, ` +
          `weights rel ${wErr.toExponential(2)} (${wName}), optimiser/carried state rel ${oErr.toExponential(2)} (${oName})`,
      );
      expect(lossErr).toBeLessThanOrEqual(tol);
      expect(normErr).toBeLessThanOrEqual(tol);
      expect(wErr).toBeLessThanOrEqual(tol);
      expect(oErr).toBeLessThanOrEqual(stored);
      // The comparison can fail: the loss moved far more than the tolerance over the 20 steps.
      expect(Math.abs(a[19]!.loss - a[0]!.loss) / a[0]!.loss).toBeGreaterThan(1e-2);
    }, 300_000);
  }

  it('the DDP checkpoint loads in mlstm eval and mlstm sample; mlstm eval reports the bits/char PyTorch reports (to 1e-4)', async () => {
    ok(await runs.get('two-float32')!, '2 ranks float32');
    const ckpt = p('two-float32.safetensors');
    const [js, torch, jsValid, sampled] = await Promise.all([
      runCli(['eval', ckpt, corpus, '--dynamic', '--json', '--threads', '1']),
      runPython(['-m', 'mlstm_torch.eval', ckpt, corpus, '--dynamic', '--json', '--threads', '1']),
      runCli(['eval', ckpt, validText, '--batch', '4', '--json', '--threads', '1']),
      runCli(['sample', ckpt, '--length', '80', '--seed', '2', '--prime', 'the ']),
    ]);
    const e = JSON.parse(ok(js, 'mlstm eval').stdout) as { bpc: number; dynamic_bpc: number; predictions: number };
    const t = JSON.parse(ok(torch, 'mlstm_torch.eval').stdout) as { bpc: number; dynamic_bpc: number; predictions: number };
    // The run's own last validation (4 streams of the held-out 5%, computed on the 2 ranks) against mlstm eval --batch 4.
    const validations = (JSON.parse(metadataOf(ckpt)['train']!) as { validations: [number, number][] }).validations;
    const trainerValid = validations[validations.length - 1]!;
    const v = JSON.parse(ok(jsValid, 'mlstm eval --batch 4').stdout) as { bpc: number };
    console.log(
      `torch-ddp eval: mlstm ${e.bpc} vs PyTorch ${t.bpc} (|Δ| ${Math.abs(e.bpc - t.bpc).toExponential(2)}); dynamic ${e.dynamic_bpc} vs ` +
        `${t.dynamic_bpc} (|Δ| ${Math.abs(e.dynamic_bpc - t.dynamic_bpc).toExponential(2)}); validation at step ${trainerValid[0]}: ` +
        `DDP ${trainerValid[1]} vs mlstm eval --batch 4 ${v.bpc} (|Δ| ${Math.abs(v.bpc - trainerValid[1]).toExponential(2)})`,
    );
    expect(e.predictions).toBe(t.predictions);
    expect(Math.abs(e.bpc - t.bpc)).toBeLessThanOrEqual(1e-4);
    expect(Math.abs(e.dynamic_bpc - t.dynamic_bpc)).toBeLessThanOrEqual(1e-4);
    expect(trainerValid[0]).toBe(20);
    expect(Math.abs(v.bpc - trainerValid[1])).toBeLessThanOrEqual(1e-4);
    expect(e.dynamic_bpc).not.toBe(e.bpc);

    const text = ok(sampled, 'mlstm sample').stdout.replace(/\n$/, '');
    const { vocab } = decodeCheckpoint(readFileSync(ckpt), { source: ckpt });
    expect(vocab.kind).toBe('chars');
    const symbols = new Set(vocab.kind === 'chars' ? vocab.symbols : []);
    expect(symbols.has('\uFFFD')).toBe(true); // SPEC-NOTES §2: a new character vocabulary holds the unknown symbol
    expect(text.startsWith('the ')).toBe(true);
    expect([...text].length).toBe(84);
    for (const ch of text) expect(symbols.has(ch), `sampled ${JSON.stringify(ch)}`).toBe(true);
  }, 300_000);

  it("the README's commands for this machine run (with --steps 2 and a short --valid) and mlstm sample reads what they write", async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Outgrowing one machine'), readme.indexOf('## Development'));
    const block = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('mlstm_torch.launch'));
    expect(block, 'a sh block with mlstm_torch.launch').toBeDefined();
    const lines = block!.replace(/\\\n\s*/g, ' ').split('\n');
    const launch = lines
      .find((l) => l.startsWith('/usr/bin/python3 -m mlstm_torch.launch'))!
      .split(/\s+/)
      .slice(1);
    const sample = lines.find((l) => l.startsWith('npx mlstm sample'))!;
    expect(launch).toContain('--nproc_per_node');
    expect(launch[launch.indexOf('--nproc_per_node') + 1]).toBe('2');
    const out = launch[launch.indexOf('--out') + 1]!;
    const args = launch.map((a) => (a === out ? p('readme.safetensors') : a)).map((a) => (a === 'data/moby-dick.txt' ? join(ROOT, a) : a));
    // 2 steps, and a short --valid so that the final validation does not score 59,515 characters on every CI run.
    const r = ok(await runPython([...args, '--steps', '2', '--valid', validText]), "the README's DDP command");
    expect(r.stdout).toMatch(/DDP on 2 ranks x 16 streams \(gloo, cpu\)/);
    expect(r.stdout).toMatch(/done: 2 steps in .*; validation bpc \d/);
    expect(sample).toBe(`npx mlstm sample ${out} --prime "Call me " --length 300`);
    const text = ok(await runCli(['sample', p('readme.safetensors'), '--prime', 'Call me ', '--length', '300']), 'mlstm sample').stdout;
    expect([...text.replace(/\n$/, '')].length).toBe(308);
    expect(section).toContain('PYTHONPATH=$PWD/python /usr/bin/python3 python/bench/ddp_throughput.py');
    ok(await runPython([join(ROOT, 'python/bench/ddp_throughput.py'), '--help']), 'ddp_throughput.py --help');
  }, 300_000);

  /** The continued steps 11..20 of two resumed runs: training bits/char and parameter movement from step 10. */
  function compareContinuations(a: string, ref: string, start: string, tolBpc: number, tolMove: number): string {
    const A = floats(p(`${a}.safetensors`));
    const R = floats(p(`${ref}.safetensors`));
    const S = floats(p(`${start}.safetensors`));
    const ha = A.get('train.bpc')!;
    const hr = R.get('train.bpc')!;
    expect(ha.length).toBe(20);
    expect(hr.length).toBe(20);
    expect(relativeError(ha.subarray(0, 10), S.get('train.bpc')!)).toBe(0); // the first 10 steps are the checkpoint's
    const bpcErr = Math.max(...Array.from(ha.subarray(10), (x, i) => Math.abs(x - hr[10 + i]!) / hr[10 + i]!));
    const [name, moveErr] = worstMovement(A, R, S);
    expect(bpcErr).toBeLessThanOrEqual(tolBpc);
    expect(moveErr).toBeLessThanOrEqual(tolMove);
    expect(JSON.parse(metadataOf(p(`${a}.safetensors`))['train']!)).toMatchObject({ step: 20 });
    return `train bpc rel ${bpcErr.toExponential(2)}, movement rel ${moveErr.toExponential(2)} (${name})`;
  }

  it('a checkpoint of mlstm train continues under DDP as under mlstm train --resume', async () => {
    ok(await jsRuns.get('js-then-js')!, 'mlstm train --resume');
    const r = ok(await runs.get('js-then-ddp')!, 'DDP --resume of an mlstm train checkpoint');
    expect(r.stdout).toMatch(/^resuming at step 10: mlstm 2x12 .*; DDP on 2 ranks x 2 streams \(gloo, cpu\);/);
    console.log(
      `torch-ddp mlstm train → DDP, steps 11-20 against mlstm train --resume: ${compareContinuations('js-then-ddp', 'js-then-js', 'js10', 1e-5, 1e-3)}`,
    );
  }, 300_000);

  it('a DDP checkpoint continues under mlstm train --resume as under DDP --resume and on one process', async () => {
    const js = ok(await jsRuns.get('ddp-then-js')!, 'mlstm train --resume of a DDP checkpoint');
    expect(js.stdout).toMatch(/^resuming at step 10: mlstm 2×12/);
    ok(await runs.get('ddp-then-ddp')!, 'DDP --resume');
    ok(await runs.get('ddp-then-one')!, 'one-process --resume');
    console.log(
      `torch-ddp DDP → mlstm train --resume against DDP --resume: ${compareContinuations('ddp-then-js', 'ddp-then-ddp', 'ddp10', 1e-5, 1e-3)}`,
    );
    console.log(
      `torch-ddp DDP → 1 rank --resume against 2 ranks: ${compareContinuations('ddp-then-one', 'ddp-then-ddp', 'ddp10', 1e-5, 1e-5)}`,
    );
  }, 300_000);

  it('two nodes (two launchers, --nnodes 2, a c10d rendezvous) continue a DDP checkpoint as one node of 2 ranks does', async () => {
    ok(await runs.get('ddp-then-ddp')!, 'DDP --resume');
    const r = ok(await runs.get('ddp-then-nodes')!, 'two nodes --resume');
    expect(r.stdout).toMatch(/^resuming at step 10: .*; DDP on 2 ranks x 2 streams \(gloo, cpu\);/);
    const compared = compareContinuations('ddp-then-nodes', 'ddp-then-ddp', 'ddp10', 1e-6, 1e-6);
    console.log(`torch-ddp 2 nodes × 1 rank against 1 node × 2 ranks: ${compared}`);
  }, 300_000);
});
