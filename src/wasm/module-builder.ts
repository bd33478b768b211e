import { append, name, u32, vector } from './encoding.js';
import { Expr, Local, type I32, type Type, type Void } from './expr.js';
import { CONTROL, VALTYPES, type ValType } from './instructions.js';

/**
 * Builds a WebAssembly module (core spec §5.5 "Modules"): function types, an imported memory,
 * functions with named parameters and locals, exports, and a "name" section so that profiles and
 * stack traces show our function names. The result is a Uint8Array for WebAssembly.validate /
 * compile. Only what the kernels need is here: one memory, no tables, globals or data segments.
 */

/** A linear memory's size bounds in 64 KiB pages; `shared` needs a maximum (threads proposal). */
export interface MemoryLimits {
  initial: number;
  maximum?: number;
  shared?: boolean;
}

/** Limits (§5.3.7, threads: flag 0x03 = shared with a maximum). */
export function limitsBytes({ initial, maximum, shared = false }: MemoryLimits): number[] {
  if (shared && maximum === undefined) throw new RangeError('wasm memory: a shared memory needs a maximum');
  if (maximum !== undefined && maximum < initial) throw new RangeError(`wasm memory: maximum ${maximum} < initial ${initial} pages`);
  if (maximum === undefined) return [0x00, ...u32(initial)];
  return [shared ? 0x03 : 0x01, ...u32(initial), ...u32(maximum)];
}

/** A jump target: the label of an enclosing block (branching exits it) or loop (branching repeats it). */
export class Label {
  constructor(readonly kind: 'block' | 'loop' | 'if') {}
}

type Params = Record<string, ValType>;
type ParamLocals<P extends Params> = { readonly [K in keyof P]: Local<P[K]> };

/** A declared function: callable (by index) before or after its body is defined. */
export class FunctionRef<P extends Params = Params> {
  body: number[] | null = null;
  localTypes: ValType[] = [];
  constructor(
    readonly index: number,
    readonly name: string,
    readonly params: P,
    readonly results: readonly ValType[],
    readonly exported: boolean,
  ) {}

  get paramTypes(): ValType[] {
    return Object.values(this.params);
  }
}

/**
 * Writes one function body. Statements are emitted as they are called; control constructs take
 * their body as a callback, so the nesting of the TypeScript is the nesting of the code, and
 * branch depths are computed from the labels (never written by hand).
 */
export class FunctionBuilder<P extends Params = Params> {
  readonly params: ParamLocals<P>;
  private readonly code: number[] = [];
  private readonly labels: Label[] = [];
  private readonly localTypes: ValType[] = [];
  private nextIndex: number;
  private resultGiven = false;

  constructor(private readonly fn: FunctionRef<P>) {
    const params = {} as Record<string, Local>;
    let i = 0;
    for (const [label, type] of Object.entries(fn.params)) params[label] = new Local(type, i++, label);
    this.params = params as ParamLocals<P>;
    this.nextIndex = i;
  }

  /** A new local of `type` (zero-initialised, as every wasm local). */
  local<T extends ValType>(type: T, label = `l${this.nextIndex}`): Local<T> {
    this.localTypes.push(type);
    return new Local(type, this.nextIndex++, label);
  }

  /** A new local holding `value`: how an expression used more than once is shared. */
  let<T extends ValType>(value: Expr<T>, label?: string): Local<T> {
    const l = this.local(value.type, label);
    this.set(l, value);
    return l;
  }

  set<T extends ValType>(local: Local<T>, value: Expr<T>): void {
    if (value.type !== local.type) throw new TypeError(`wasm local.set ${local.label}: ${local.type} local given a ${value.type}`);
    value.emit(this.code);
    this.code.push(CONTROL['local.set'], ...u32(local.index));
  }

  /** An expression that stores `value` into `local` and yields it. */
  tee<T extends ValType>(local: Local<T>, value: Expr<T>): Expr<T> {
    if (value.type !== local.type) throw new TypeError(`wasm local.tee ${local.label}: ${local.type} local given a ${value.type}`);
    return new Expr(local.type, (out) => {
      value.emit(out);
      out.push(CONTROL['local.tee'], ...u32(local.index));
    });
  }

  /** A statement: an expression that leaves nothing (a store). */
  emit(statement: Void): void {
    if (statement.type !== 'void') throw new TypeError(`wasm: a ${statement.type} value used as a statement (drop it or store it)`);
    statement.emit(this.code);
  }

  drop(value: Expr): void {
    value.emit(this.code);
    this.code.push(CONTROL.drop);
  }

  /** `block … end`: `br(exit)` inside jumps to after it. */
  block(body: (exit: Label) => void): void {
    this.structured(CONTROL.block, new Label('block'), body);
  }

  /** `loop … end`: `br(top)` inside jumps back to its start; falling off the end leaves it. */
  loop(body: (top: Label) => void): void {
    this.structured(CONTROL.loop, new Label('loop'), body);
  }

  /** `if … else … end` on an i32 condition (≠ 0 is true). */
  if(cond: I32, then: () => void, otherwise?: () => void): void {
    this.checkI32('if', cond);
    cond.emit(this.code);
    const label = new Label('if');
    this.code.push(CONTROL.if, CONTROL.emptyBlockType);
    this.labels.push(label);
    then();
    if (otherwise) {
      this.code.push(CONTROL.else);
      otherwise();
    }
    this.labels.pop();
    this.code.push(CONTROL.end);
  }

  br(label: Label): void {
    this.code.push(CONTROL.br, ...u32(this.depth(label)));
  }

  brIf(label: Label, cond: I32): void {
    this.checkI32('br_if', cond);
    cond.emit(this.code);
    this.code.push(CONTROL.br_if, ...u32(this.depth(label)));
  }

  /** A call as a statement (the callee returns nothing). */
  call(fn: FunctionRef, ...args: Expr[]): void {
    if (fn.results.length !== 0) throw new TypeError(`wasm call ${fn.name}: returns a value; use callValue`);
    this.callValue(fn, ...args).emit(this.code);
  }

  /** A call as an expression of the callee's single result type. */
  callValue<T extends Type>(fn: FunctionRef, ...args: Expr[]): Expr<T> {
    const types = fn.paramTypes;
    if (args.length !== types.length) throw new TypeError(`wasm call ${fn.name}: takes ${types.length} argument(s), got ${args.length}`);
    args.forEach((a, i) => {
      if (a.type !== types[i]) throw new TypeError(`wasm call ${fn.name}: argument ${i + 1} must be ${types[i]}, got ${a.type}`);
    });
    if (fn.results.length > 1) throw new TypeError(`wasm call ${fn.name}: multiple results are not supported`);
    return new Expr((fn.results[0] ?? 'void') as T, (out) => {
      for (const a of args) a.emit(out);
      out.push(CONTROL.call, ...u32(fn.index));
    });
  }

  /** Ends the body with the function's result value. */
  result(value: Expr): void {
    if (value.type !== this.fn.results[0])
      throw new TypeError(`wasm ${this.fn.name}: result must be ${this.fn.results[0]}, got ${value.type}`);
    value.emit(this.code);
    this.resultGiven = true;
  }

  /** The finished body (locals declaration, code, end), for the code section. */
  finish(): { localTypes: ValType[]; body: number[] } {
    if (this.labels.length !== 0) throw new Error(`wasm ${this.fn.name}: unclosed block`);
    if (this.fn.results.length > 0 && !this.resultGiven) throw new Error(`wasm ${this.fn.name}: no result given`);
    this.code.push(CONTROL.end);
    return { localTypes: this.localTypes, body: this.code };
  }

  private structured(opcode: number, label: Label, body: (label: Label) => void): void {
    this.code.push(opcode, CONTROL.emptyBlockType);
    this.labels.push(label);
    body(label);
    this.labels.pop();
    this.code.push(CONTROL.end);
  }

  private depth(label: Label): number {
    const i = this.labels.lastIndexOf(label);
    if (i < 0) throw new Error(`wasm ${this.fn.name}: branch to a label that does not enclose it`);
    return this.labels.length - 1 - i;
  }

  private checkI32(what: string, cond: Expr): void {
    if (cond.type !== 'i32') throw new TypeError(`wasm ${what}: the condition must be i32, got ${cond.type}`);
  }
}

const SECTION = { custom: 0, type: 1, import: 2, function: 3, memory: 5, export: 7, code: 10 } as const;

function section(id: number, content: readonly number[]): number[] {
  return append([id, ...u32(content.length)], content);
}

/** Locals as runs of one type: (count, type) pairs (§5.5.13). */
function localRuns(types: readonly ValType[]): number[][] {
  const runs: number[][] = [];
  let i = 0;
  while (i < types.length) {
    let j = i;
    while (j < types.length && types[j] === types[i]) j++;
    runs.push([...u32(j - i), VALTYPES[types[i]!]]);
    i = j;
  }
  return runs;
}

export class ModuleBuilder {
  private readonly functions: FunctionRef[] = [];
  private memoryImport: { module: string; field: string; limits: MemoryLimits } | null = null;
  private memoryExport: string | null = null;

  /** The module's one memory, provided by the embedder (so several instances, and threads, can share it). */
  importMemory(module: string, field: string, limits: MemoryLimits): this {
    limitsBytes(limits); // validates
    this.memoryImport = { module, field, limits };
    return this;
  }

  /** Also export the (imported) memory under `field`. */
  exportMemory(field: string): this {
    this.memoryExport = field;
    return this;
  }

  /** Declares a function (its index is fixed now); define its body with `define`. */
  declare<P extends Params>(
    fnName: string,
    params: P,
    results: readonly ValType[] = [],
    options: { export?: boolean } = {},
  ): FunctionRef<P> {
    if (this.functions.some((f) => f.name === fnName)) throw new Error(`wasm: function ${fnName} declared twice`);
    const ref = new FunctionRef(this.functions.length, fnName, params, results, options.export ?? true);
    this.functions.push(ref as unknown as FunctionRef);
    return ref;
  }

  /** Writes the body of a declared function. */
  define<P extends Params>(ref: FunctionRef<P>, body: (f: FunctionBuilder<P>, params: ParamLocals<P>) => void): FunctionRef<P> {
    if (ref.body !== null) throw new Error(`wasm: function ${ref.name} defined twice`);
    const f = new FunctionBuilder(ref);
    body(f, f.params);
    const done = f.finish();
    ref.body = done.body;
    ref.localTypes = done.localTypes;
    return ref;
  }

  /** declare + define in one step. */
  function<P extends Params>(
    fnName: string,
    params: P,
    results: readonly ValType[],
    body: (f: FunctionBuilder<P>, params: ParamLocals<P>) => void,
    options: { export?: boolean } = {},
  ): FunctionRef<P> {
    return this.define(this.declare(fnName, params, results, options), body);
  }

  /** The module's bytes. */
  build(): Uint8Array {
    const missing = this.functions.filter((f) => f.body === null).map((f) => f.name);
    if (missing.length > 0) throw new Error(`wasm: functions declared but not defined: ${missing.join(', ')}`);
    // Function types, deduplicated by signature.
    const typeKeys: string[] = [];
    const types: number[][] = [];
    const typeIndex = this.functions.map((f) => {
      const enc = [0x60, ...vector(f.paramTypes.map((t) => [VALTYPES[t]])), ...vector(f.results.map((t) => [VALTYPES[t]]))];
      const key = enc.join(',');
      let i = typeKeys.indexOf(key);
      if (i < 0) {
        i = typeKeys.push(key) - 1;
        types.push(enc);
      }
      return i;
    });
    const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]; // "\0asm", version 1
    append(out, section(SECTION.type, vector(types)));
    if (this.memoryImport) {
      const { module, field, limits } = this.memoryImport;
      append(out, section(SECTION.import, vector([[...name(module), ...name(field), 0x02, ...limitsBytes(limits)]])));
    }
    append(out, section(SECTION.function, vector(typeIndex.map((t) => u32(t)))));
    const exports = this.functions.filter((f) => f.exported).map((f) => [...name(f.name), 0x00, ...u32(f.index)]);
    if (this.memoryExport !== null) exports.push([...name(this.memoryExport), 0x02, ...u32(0)]);
    append(out, section(SECTION.export, vector(exports)));
    const bodies = this.functions.map((f) => {
      const content = append(vector(localRuns(f.localTypes)), f.body!);
      return append(u32(content.length), content);
    });
    append(out, section(SECTION.code, vector(bodies)));
    // Custom "name" section, subsection 1 (function names): profiles and traces name our kernels.
    const functionNames = vector(this.functions.map((f) => [...u32(f.index), ...name(f.name)]));
    append(out, section(SECTION.custom, append([...name('name'), 0x01, ...u32(functionNames.length)], functionNames)));
    return Uint8Array.from(out);
  }
}
