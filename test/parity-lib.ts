import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors, toTensor } from '../src/io/safetensors.js';
import type { DType } from '../src/tensor/dtype.js';
import { Rng } from '../src/tensor/rng.js';
import { formatShape, shapesEqual } from '../src/tensor/shape.js';
import { Tensor } from '../src/tensor/tensor.js';
import { Tape } from '../src/autograd/tape.js';
import type { Backend } from '../src/tensor/backend.js';
import { defaultBackend } from '../src/tensor/kernels/index.js';
import type { Var } from '../src/autograd/var.js';
import { createCell, type CellKind } from '../src/nn/cells/index.js';
import { pack } from './cells-support.js';

/*
 * Comparison of the engine against the golden PyTorch float64 fixtures (docs/CONTRACT.md, "Fixture
 * files" and "Tolerances"). Every tensor in a case must be either an input the harness feeds in or
 * an expected value it compares; any other key, or an unknown kind, is a failed check — never a skip.
 */

export const FORWARD_TOLERANCE = 1e-5;
export const GRADIENT_TOLERANCE = 1e-3;

export interface Fixture {
  name: string;
  kind: string;
  config: Record<string, unknown>;
  /** Every float tensor of the file, float64, by name. */
  tensors: Map<string, Tensor>;
  /** Integer tensors (e.g. `tokens`) as Int32 values, by name. */
  ints: Map<string, { shape: number[]; data: Int32Array }>;
}

/** The directory holding the fixtures: test/fixtures if present, else the shared copy. */
export function fixtureDir(): string {
  const local = fileURLToPath(new URL('./fixtures/', import.meta.url));
  return existsSync(join(local, 'mlstm_small.safetensors')) ? local : '/work/shared/fixtures';
}

export function loadFixture(name: string, dir = fixtureDir()): Fixture {
  const path = join(dir, `${name}.safetensors`);
  const file = decodeSafetensors(readFileSync(path), { source: path });
  const tensors = new Map<string, Tensor>();
  const ints = new Map<string, { shape: number[]; data: Int32Array }>();
  for (const [key, entry] of file.tensors) {
    if (entry.dtype === 'I32') ints.set(key, { shape: entry.shape.slice(), data: entry.data as Int32Array });
    else tensors.set(key, toTensor(entry, key).astype('float64'));
  }
  const kind = file.metadata['kind'] ?? '(missing __metadata__.kind)';
  const config = JSON.parse(file.metadata['config'] ?? '{}') as Record<string, unknown>;
  return { name, kind, config, tensors, ints };
}

/** ‖a − ref‖₂ / ‖ref‖₂ (‖a‖₂ when the reference is exactly zero). */
export function relativeError(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (a.length !== ref.length) return Infinity;
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = a[i]! - ref[i]!;
    num += d * d;
    den += ref[i]! * ref[i]!;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

export interface ParityCheck {
  key: string;
  relativeError: number;
  tolerance: number;
  ok: boolean;
  note?: string;
}

export interface ParityReport {
  name: string;
  kind: string;
  checks: ParityCheck[];
  ok: boolean;
}

/** Collects checks and remembers which fixture keys were used, so leftovers can be failed. */
export class ParityRecorder {
  readonly checks: ParityCheck[] = [];
  private readonly used = new Set<string>();
  constructor(readonly fixture: Fixture) {}

  /** Take an input tensor (marks the key as used); a missing one is an error naming the case. */
  input(key: string): Tensor {
    const t = this.fixture.tensors.get(key);
    if (!t) throw new Error(`parity ${this.fixture.name}: missing input tensor '${key}'`);
    this.used.add(key);
    return t;
  }

  has(key: string): boolean {
    return this.fixture.tensors.has(key) || this.fixture.ints.has(key);
  }

  /** Compare `actual` (null = no gradient arrived, i.e. zeros) with the expected tensor `key`. */
  compare(key: string, actual: Tensor | null, tolerance: number): void {
    const ref = this.fixture.tensors.get(key);
    this.used.add(key);
    if (!ref)
      return void this.checks.push({
        key,
        relativeError: Infinity,
        tolerance,
        ok: false,
        note: 'expected tensor missing from the fixture',
      });
    if (actual === null) actual = new Tensor(new Float64Array(ref.size), ref.shape);
    if (!shapesEqual(actual.shape, ref.shape)) {
      return void this.checks.push({
        key,
        relativeError: Infinity,
        tolerance,
        ok: false,
        note: `shape ${formatShape(actual.shape)} vs ${formatShape(ref.shape)}`,
      });
    }
    const e = relativeError(actual.data, ref.data);
    this.checks.push({ key, relativeError: e, tolerance, ok: e <= tolerance });
  }

  /**
   * Compare derived values (e.g. a parameter's movement p_s − p_0 against ref_s − p_0) under the
   * name `key`. The fixture tensors they came from must be marked used by `input`/`compare`.
   */
  compareValues(key: string, actual: ArrayLike<number>, ref: ArrayLike<number>, tolerance: number): void {
    if (actual.length !== ref.length) {
      return void this.checks.push({
        key,
        relativeError: Infinity,
        tolerance,
        ok: false,
        note: `${actual.length} values vs ${ref.length} expected`,
      });
    }
    const e = relativeError(actual, ref);
    this.checks.push({ key, relativeError: e, tolerance, ok: e <= tolerance });
  }

  /**
   * Fail every fixture key nobody consumed (an unknown key must not pass silently). `alsoUsed`
   * names keys a harness read directly (e.g. integer `tokens` from `fixture.ints`).
   */
  finish(alsoUsed: readonly string[] = []): ParityReport {
    for (const key of alsoUsed) {
      if (!this.has(key))
        this.checks.push({ key, relativeError: NaN, tolerance: 0, ok: false, note: 'claimed as used but not in the fixture' });
      this.used.add(key);
    }
    for (const key of [...this.fixture.tensors.keys(), ...this.fixture.ints.keys()]) {
      if (!this.used.has(key))
        this.checks.push({ key, relativeError: NaN, tolerance: 0, ok: false, note: 'key not understood by the harness' });
    }
    return {
      name: this.fixture.name,
      kind: this.fixture.kind,
      checks: this.checks,
      ok: this.checks.length > 0 && this.checks.every((c) => c.ok),
    };
  }
}

const CELL_FIXTURE_KINDS: Record<string, { cell: CellKind; weightNorm: boolean }> = {
  mlstm: { cell: 'mlstm', weightNorm: false },
  mlstm_wn: { cell: 'mlstm', weightNorm: true },
  lstm: { cell: 'lstm', weightNorm: false },
  mrnn: { cell: 'mrnn', weightNorm: false },
};

export function isCellFixture(fixture: Fixture): boolean {
  return fixture.kind in CELL_FIXTURE_KINDS;
}

function configInt(fixture: Fixture, key: string): number {
  const v = fixture.config[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new Error(`parity ${fixture.name}: config.${key} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * A cell case through the public API: build the cell from the config, load the parameters by their
 * contract names, run forward on x from (h0, c0) in `dtype` on `backend`, back-propagate
 * L = Σ h⊙dh + Σ c_T⊙dc, and compare outputs, loss and every gradient.
 */
export function runCellParity(fixture: Fixture, dtype: DType = 'float32', backend: Backend = defaultBackend): ParityReport {
  const rec = new ParityRecorder(fixture);
  const spec = CELL_FIXTURE_KINDS[fixture.kind];
  if (!spec) {
    rec.checks.push({ key: '__metadata__.kind', relativeError: NaN, tolerance: 0, ok: false, note: `unknown cell kind '${fixture.kind}'` });
    return rec.finish();
  }
  const hasC = spec.cell !== 'mrnn';
  const H = configInt(fixture, 'hidden');
  const cell = createCell(spec.cell, {
    inputSize: configInt(fixture, 'input'),
    hiddenSize: H,
    rng: new Rng(0),
    dtype,
    weightNorm: spec.weightNorm,
  });
  const params = cell.namedParameters();
  cell.loadStateDict(new Map(params.map(([n]) => [n, rec.input(n)])), { strict: true, source: fixture.name });

  const tape = new Tape({ backend });
  const x = tape.leaf(rec.input('x').astype(dtype), 'x');
  const h0 = tape.leaf(rec.input('h0').astype(dtype), 'h0');
  const c0 = hasC ? tape.leaf(rec.input('c0').astype(dtype), 'c0') : null;
  const out = cell.forward(tape, x, { h: h0, c: c0 });
  const dh = rec.input('dh');
  const dc = hasC ? rec.input('dc') : null;

  // L in float64 from the engine's outputs, then its gradient by seeding (dh, dc) on (hs, c_T).
  let loss = 0;
  for (let i = 0; i < dh.size; i++) loss += out.hs.data[i]! * dh.data[i]!;
  const roots: Var[] = [out.hs];
  const seeds: number[] = Array.from(dh.data);
  if (dc) {
    const cT = out.state.c!;
    for (let i = 0; i < dc.size; i++) loss += cT.data[i]! * dc.data[i]!;
    roots.push(cT);
    seeds.push(...dc.data);
  }
  tape.backward(pack(tape, ...roots), new Tensor(Float64Array.from(seeds), [seeds.length]));

  rec.compare('out.h', out.hs.value, FORWARD_TOLERANCE);
  if (hasC) rec.compare('out.c', out.cs ?? null, FORWARD_TOLERANCE);
  if (spec.cell !== 'lstm') rec.compare('out.m', out.ms ?? null, FORWARD_TOLERANCE);
  rec.compare('out.loss', new Tensor(Float64Array.of(loss), [1]), FORWARD_TOLERANCE);
  rec.compare('grad.x', x.grad, GRADIENT_TOLERANCE);
  rec.compare('grad.h0', h0.grad, GRADIENT_TOLERANCE);
  if (c0) rec.compare('grad.c0', c0.grad, GRADIENT_TOLERANCE);
  for (const [n, p] of params) rec.compare(`grad.${n}`, p.grad, GRADIENT_TOLERANCE);
  return rec.finish();
}

/** The worst check of each tolerance class, for one printed line per case. */
export function summarize(report: ParityReport): string {
  const worst = (tol: number): ParityCheck | undefined =>
    report.checks
      .filter((c) => c.tolerance === tol)
      .reduce<ParityCheck | undefined>((w, c) => (!w || !(c.relativeError <= w.relativeError) ? c : w), undefined);
  const f = worst(FORWARD_TOLERANCE);
  const g = worst(GRADIENT_TOLERANCE);
  const fmt = (c: ParityCheck | undefined): string => (c ? `${c.relativeError.toExponential(2)} (${c.key})` : '-');
  const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.key}: ${c.note ?? `${c.relativeError} > ${c.tolerance}`}`);
  return `${report.name} [${report.kind}] ${report.ok ? 'ok' : 'FAILED'}: worst forward ${fmt(f)}, worst gradient ${fmt(g)}${failed.length ? `; failures: ${failed.join('; ')}` : ''}`;
}
