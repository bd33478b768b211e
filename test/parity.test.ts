import { readdirSync, existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/tensor/tensor.js';
import { isCellFixture, loadFixture, runCellParity, summarize, type Fixture, type ParityReport } from './parity-lib.js';
import { runCharLMParity } from './parity-charlm.js';
import { describeBackend, parityBackend, selectedParityBackends } from './parity-backend.js';
import type { Backend } from '../src/tensor/backend.js';

/*
 * The parity suite (docs/CONTRACT.md): every `*.safetensors` case in the folder named by MLSTM_FIXTURES
 * (default test/fixtures) is built through the public API and compared with the float64 PyTorch
 * reference to the contract's tolerances, on every backend MLSTM_BACKEND selects (parity-backend.ts;
 * by default the JS kernels and both WebAssembly modules). One line per case with its worst relative
 * errors. An unknown kind or key, or an empty folder, fails: nothing is skipped.
 */

const dir = resolve(process.env['MLSTM_FIXTURES'] ?? new URL('./fixtures/', import.meta.url).pathname);

function runCase(fixture: Fixture, backend?: Backend): ParityReport {
  if (isCellFixture(fixture)) return runCellParity(fixture, 'float32', backend);
  if (fixture.kind === 'charlm') return runCharLMParity(fixture, 'float32', backend);
  return {
    name: fixture.name,
    kind: fixture.kind,
    ok: false,
    checks: [{ key: '__metadata__.kind', relativeError: NaN, tolerance: 0, ok: false, note: `unknown kind '${fixture.kind}'` }],
  };
}

const files =
  existsSync(dir) && statSync(dir).isDirectory()
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.safetensors'))
        .sort()
    : [];

for (const backendName of selectedParityBackends()) {
  const backend = parityBackend(backendName);
  const label = backend === null ? `${backendName} (not available on this machine)` : describeBackend(backend);
  describe(`parity against the PyTorch float64 fixtures in ${dir}, on ${label}`, () => {
    it('the folder holds at least one case', () => {
      expect(files.length, `no *.safetensors cases in ${dir}`).toBeGreaterThan(0);
    });

    for (const file of files) {
      const name = file.slice(0, -'.safetensors'.length);
      it.runIf(backend !== null)(name, () => {
        const report = runCase(loadFixture(name, dir), backend!);
        console.log(`[${label}] ${summarize(report)}`);
        expect(report.ok, summarize(report)).toBe(true);
      });
    }
  });
}

describe('the parity suite fails when it should', () => {
  const local = new URL('./fixtures/', import.meta.url).pathname;

  it('a perturbed expected parameter after an update fails the charlm case', () => {
    const fixture = loadFixture('charlm_adam', local);
    const key = 'step2.layers.0.whm';
    const ref = fixture.tensors.get(key)!;
    const start = fixture.tensors.get('layers.0.whm')!;
    let moved = 0;
    for (let i = 0; i < ref.size; i++) moved += (ref.data[i]! - start.data[i]!) ** 2;
    ref.data[3]! += 0.01 * Math.sqrt(moved); // 1% of the movement: ten times the tolerance
    const report = runCharLMParity(fixture);
    expect(report.checks.find((c) => c.key === key)?.ok).toBe(false);
    expect(report.ok).toBe(false);
  });

  it('a perturbed loss, gradient or grad norm fails', () => {
    for (const [key, rel] of [
      ['out.loss', 1e-4],
      ['grad.head.weight', 1e-2],
      ['step1.grad_norm', 1e-2],
    ] as const) {
      const fixture = loadFixture('charlm_adamw_2layer', local);
      const t = fixture.tensors.get(key)!;
      let norm = 0;
      for (const v of t.data) norm += v * v;
      t.data[0]! += rel * Math.sqrt(norm);
      const report = runCharLMParity(fixture);
      expect(report.checks.find((c) => c.key === key)?.ok, key).toBe(false);
    }
  });

  it('an unknown key or kind fails', () => {
    const fixture = loadFixture('charlm_adam', local);
    fixture.tensors.set('step9.embed.weight', new Tensor(new Float64Array(1), [1]));
    expect(runCharLMParity(fixture).ok).toBe(false);
    const other = loadFixture('charlm_adam', local);
    other.kind = 'transformer';
    expect(runCase(other).ok).toBe(false);
  });
});
