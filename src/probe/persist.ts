/**
 * Saving and loading a probe: JSON (readable, diffable; numbers written with full double precision so a
 * loaded probe predicts exactly as the saved one) or safetensors (`mean`, `scale` [H], `weights` [K,H],
 * `bias` [K] as F64; `classes`, `lambda`, `info` in the metadata). Loading validates everything and
 * names the source and the field at fault.
 */
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors.js';
import { PROBE_FORMAT, type Probe } from './probe.js';

export class ProbeFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProbeFormatError';
  }
}

export function probeToJSON(probe: Probe): string {
  validateProbe(probe, 'probeToJSON');
  return `${JSON.stringify(probe, null, 1)}\n`;
}

export function probeFromJSON(text: string, source = 'probe'): Probe {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ProbeFormatError(`${source}: not valid JSON (${(e as Error).message})`);
  }
  validateProbe(raw, source);
  return raw;
}

export function encodeProbeSafetensors(probe: Probe): Uint8Array {
  validateProbe(probe, 'encodeProbeSafetensors');
  const H = probe.mean.length;
  const K = probe.weights.length;
  return encodeSafetensors(
    {
      mean: { dtype: 'F64', shape: [H], data: Float64Array.from(probe.mean) },
      scale: { dtype: 'F64', shape: [H], data: Float64Array.from(probe.scale) },
      weights: { dtype: 'F64', shape: [K, H], data: Float64Array.from(probe.weights.flat()) },
      bias: { dtype: 'F64', shape: [K], data: Float64Array.from(probe.bias) },
    },
    {
      format: PROBE_FORMAT,
      classes: JSON.stringify(probe.classes),
      lambda: JSON.stringify(probe.lambda),
      info: JSON.stringify(probe.info),
    },
  );
}

export function decodeProbeSafetensors(bytes: Uint8Array, source = 'probe'): Probe {
  const file = decodeSafetensors(bytes, { source });
  const m = file.metadata;
  const parse = (key: string): unknown => {
    try {
      return JSON.parse(m[key] ?? 'null');
    } catch {
      throw new ProbeFormatError(`${source}: metadata '${key}' is not valid JSON`);
    }
  };
  const vector = (name: string): number[] => {
    const t = file.tensors.get(name);
    if (!t || (t.dtype !== 'F64' && t.dtype !== 'F32')) throw new ProbeFormatError(`${source}: missing float tensor '${name}'`);
    return Array.from(t.data as Float64Array);
  };
  const w = file.tensors.get('weights');
  if (!w || w.shape.length !== 2) throw new ProbeFormatError(`${source}: missing tensor 'weights' [K,H]`);
  const [K, H] = w.shape as [number, number];
  const flat = vector('weights');
  const probe = {
    format: m.format,
    classes: parse('classes'),
    lambda: parse('lambda'),
    mean: vector('mean'),
    scale: vector('scale'),
    weights: Array.from({ length: K }, (_, k) => flat.slice(k * H, (k + 1) * H)),
    bias: vector('bias'),
    info: parse('info') ?? {},
  };
  validateProbe(probe, source);
  return probe;
}

function isFiniteArray(a: unknown, length?: number): a is number[] {
  return Array.isArray(a) && (length === undefined || a.length === length) && a.every((v) => typeof v === 'number' && Number.isFinite(v));
}

/** Throws a ProbeFormatError naming the first field that does not fit. */
export function validateProbe(raw: unknown, source: string): asserts raw is Probe {
  const fail = (what: string): never => {
    throw new ProbeFormatError(`${source}: ${what}`);
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('a probe must be a JSON object');
  const p = raw as Record<string, unknown>;
  if (p.format !== PROBE_FORMAT) fail(`not a probe (format is ${JSON.stringify(p.format ?? null)}, expected "${PROBE_FORMAT}")`);
  const classes = p.classes;
  if (!Array.isArray(classes) || classes.length < 2 || classes.some((c) => typeof c !== 'string'))
    fail("'classes' must be an array of at least 2 strings");
  if (new Set(classes as string[]).size !== (classes as string[]).length) fail("'classes' repeats a label");
  if (typeof p.lambda !== 'number' || !(p.lambda >= 0) || !Number.isFinite(p.lambda)) fail("'lambda' must be a finite number ≥ 0");
  if (!isFiniteArray(p.mean) || p.mean.length === 0) fail("'mean' must be a non-empty array of finite numbers");
  const H = (p.mean as number[]).length;
  if (!isFiniteArray(p.scale, H) || (p.scale as number[]).some((s) => !(s > 0))) fail(`'scale' must be ${H} positive numbers`);
  const K = (classes as string[]).length === 2 ? 1 : (classes as string[]).length;
  if (!Array.isArray(p.weights) || p.weights.length !== K)
    fail(`'weights' must hold ${K} classifier row(s) for ${(classes as string[]).length} classes`);
  (p.weights as unknown[]).forEach((row, k) => {
    if (!isFiniteArray(row, H)) fail(`'weights' row ${k} must be ${H} finite numbers`);
  });
  if (!isFiniteArray(p.bias, K)) fail(`'bias' must be ${K} finite number(s)`);
  if (p.info === null || typeof p.info !== 'object' || Array.isArray(p.info)) fail("'info' must be an object");
}
