import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Var } from '../src/autograd/var.js';
import { clipGradNorm } from '../src/optim/clip.js';
import { makeOptimizer } from '../src/optim/config.js';
import type { OptimizerConfigInput } from '../src/optim/hyperparameters.js';
import { Tensor } from '../src/tensor/tensor.js';

// PyTorch parity of the optimiser alone. A `charlm` fixture holds the gradients PyTorch computed at
// the initial parameters (`grad.<name>`), the global norm clip_grad_norm_ returned (`step1.grad_norm`)
// and the parameters after torch's Adam/AdamW step (`step1.<name>`). Update 1 needs no model: clip
// those gradients and step, then compare. (Later updates need the model's gradients: the charlm
// parity test covers them.) A tiny F64-only safetensors reader keeps this test independent of src/io.

const FIXTURES = '/work/shared/fixtures';

function readF64Safetensors(path: string): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const bytes = readFileSync(path);
  const headerLen = Number(bytes.readBigUInt64LE(0));
  type Entry = { dtype: string; shape: number[]; data_offsets: [number, number] };
  const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, unknown>;
  const tensors = new Map<string, Tensor>();
  for (const [name, entry] of Object.entries(header)) {
    const info = entry as Entry;
    if (name === '__metadata__' || info.dtype !== 'F64') continue;
    const [start, end] = info.data_offsets;
    const raw = bytes.subarray(8 + headerLen + start, 8 + headerLen + end);
    const data = new Float64Array((end - start) / 8);
    for (let i = 0; i < data.length; i++) data[i] = raw.readDoubleLE(8 * i);
    tensors.set(name, new Tensor(data, info.shape));
  }
  return { tensors, metadata: (header.__metadata__ ?? {}) as Record<string, string> };
}

/** ‖a − ref‖₂ / ‖ref‖₂ over one tensor, the contract's error measure. */
function relError(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (a[i]! - ref[i]!) ** 2;
    den += ref[i]! ** 2;
  }
  return Math.sqrt(num) / Math.sqrt(den);
}

const files = readdirSync(FIXTURES).filter((f) => f.startsWith('charlm') && f.endsWith('.safetensors'));

describe('update 1 of the charlm fixtures (clip + torch Adam/AdamW)', () => {
  it('there are charlm fixtures to check', () => expect(files.length).toBeGreaterThan(0));

  for (const file of files) {
    for (const dtype of ['float64', 'float32'] as const) {
      it(`${file} (${dtype})`, () => {
        const { tensors, metadata } = readF64Safetensors(`${FIXTURES}/${file}`);
        const config = JSON.parse(metadata.config!) as { optimizer: OptimizerConfigInput; clip_norm: number };
        const names = [...tensors.keys()].filter((k) => !/^(out|grad|step\d+)\./.test(k));
        expect(names.length).toBeGreaterThan(0);
        const params: [string, Var][] = names.map((n) => {
          const v = new Var(tensors.get(n)!.astype(dtype), { requiresGrad: true, name: n });
          v.grad = tensors.get(`grad.${n}`)!.astype(dtype);
          return [n, v];
        });
        const norm = clipGradNorm(
          params.map(([, v]) => v),
          config.clip_norm,
        );
        const refNorm = tensors.get('step1.grad_norm')!.item();
        expect(Math.abs(norm - refNorm) / refNorm).toBeLessThan(dtype === 'float64' ? 1e-14 : 1e-6);
        const opt = makeOptimizer(params, config.optimizer);
        opt.step();
        for (const [n, v] of params) {
          const p0 = tensors.get(n)!.data;
          const ref = tensors.get(`step1.${n}`)!.data;
          const moved = Float64Array.from(v.value.data, (x, i) => x - p0[i]!);
          const refMoved = Float64Array.from(ref, (x, i) => x - p0[i]!);
          // float64: torch and this engine do the same operations in the same order → rounding only.
          expect(relError(moved, refMoved), n).toBeLessThan(dtype === 'float64' ? 1e-12 : 1e-5);
        }
      });
    }
  }
});
