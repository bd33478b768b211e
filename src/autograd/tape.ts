import type { Backend } from '../tensor/backend.js';
import { formatShape, ShapeError, shapesEqual } from '../tensor/shape.js';
import { full, type Tensor } from '../tensor/tensor.js';
import { defaultBackend } from '../tensor/kernels/index.js';
import { Workspace, type WorkspaceMemory } from '../tensor/workspace.js';
import { accumulateGrad, Var } from './var.js';

/** One recorded op: its backward closure reads the outputs' grads and accumulates into the inputs'. */
export interface TapeNode {
  readonly op: string;
  readonly inputs: readonly Var[];
  readonly outputs: readonly Var[];
  readonly backward: () => void;
  /** Gives back what only this node's backward reads (workspace buffers), once the node is discarded. */
  readonly release?: () => void;
}

export interface TapeOptions {
  /** The kernels ops run on; defaults to the blocked single-thread JS backend. */
  backend?: Backend;
}

/**
 * An explicit record of the differentiable ops of one computation, in execution order (which is a
 * topological order). There is no hidden global engine: every op takes the tape it records on, and
 * `noGrad` pauses only this tape. `backward` walks the nodes in reverse, each node accumulating into
 * its inputs' gradients, so a Var used twice receives the sum of both contributions.
 */
export class Tape {
  readonly backend: Backend;
  /**
   * Scratch buffers the ops on this tape borrow and give back, so repeated steps reuse them (see
   * Workspace): in the backend's memory where it has one (Backend.allocate), so that the wasm
   * kernels read and write them in place.
   */
  readonly workspace: Workspace;
  private nodes: TapeNode[] = [];
  private paused = 0;

  constructor(options: TapeOptions = {}) {
    this.backend = options.backend ?? defaultBackend;
    this.workspace = new Workspace(32, memoryOf(this.backend));
  }

  /** Whether ops are being recorded now (false inside noGrad). */
  get recording(): boolean {
    return this.paused === 0;
  }

  get length(): number {
    return this.nodes.length;
  }

  /** Should an op on these inputs be recorded? */
  needsGrad(...inputs: readonly Var[]): boolean {
    if (this.paused > 0) return false;
    for (const v of inputs) if (v.requiresGrad) return true;
    return false;
  }

  /** A leaf Var that requires a gradient (a parameter or an input to differentiate by). */
  leaf(value: Tensor, name?: string): Var {
    return new Var(value, { requiresGrad: true, name });
  }

  /** A Var that never receives a gradient. */
  constant(value: Tensor, name?: string): Var {
    return new Var(value, { requiresGrad: false, name });
  }

  /**
   * Record an op. Call it only when `needsGrad(...inputs)` is true; the outputs become
   * gradient-carrying Vars owned by this tape. `release`, if given, runs when the node is
   * discarded (clear, or the end of a backward without retainGraph): the op gives back the
   * workspace buffers its backward reads.
   */
  record(op: string, inputs: readonly Var[], outputs: readonly Var[], backward: () => void, release?: () => void): void {
    for (const o of outputs) {
      o.requiresGrad = true;
      o.tape = this;
    }
    this.nodes.push(release ? { op, inputs, outputs, backward, release } : { op, inputs, outputs, backward });
  }

  /** Run `fn` without recording anything on this tape (evaluation, sampling, optimiser updates). */
  noGrad<T>(fn: () => T): T {
    this.paused++;
    try {
      return fn();
    } finally {
      this.paused--;
    }
  }

  /**
   * Accumulate d(root)/d(leaf) into every leaf's grad. Without `upstream` the root must hold a single
   * value (a loss) and is seeded with 1; with it, `upstream` (same shape as root) is the incoming
   * gradient, i.e. the gradient of sum(root ⊙ upstream). The recorded nodes are released afterwards
   * unless `retainGraph` is set.
   */
  backward(root: Var, upstream?: Tensor, options: { retainGraph?: boolean } = {}): void {
    if (!root.requiresGrad) throw new Error(`backward: ${root.describe()} does not require a gradient`);
    if (upstream === undefined) {
      if (root.size !== 1) {
        throw new ShapeError(`backward: root of shape ${formatShape(root.shape)} is not a scalar; pass an upstream gradient of that shape`);
      }
      accumulateGrad(root, full(root.shape, 1, root.value.dtype), 'backward');
    } else {
      if (!shapesEqual(upstream.shape, root.shape)) {
        throw new ShapeError(
          `backward: upstream gradient of shape ${formatShape(upstream.shape)} does not match root of shape ${formatShape(root.shape)}`,
        );
      }
      accumulateGrad(root, upstream, 'backward');
    }
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i]!;
      if (node.outputs.some((o) => o.grad !== null)) node.backward();
    }
    if (!options.retainGraph) this.clear();
  }

  /** Forget every recorded node (leaves and their grads are untouched); their workspace buffers return to the pool. */
  clear(): void {
    const nodes = this.nodes;
    this.nodes = [];
    for (const node of nodes) node.release?.();
  }
}

/** The backend's allocate/free for a workspace, or null when it has none. */
function memoryOf(backend: Backend): WorkspaceMemory | null {
  const { allocate, free } = backend;
  if (typeof allocate !== 'function' || typeof free !== 'function') return null;
  return { allocate: (length) => allocate.call(backend, length), free: (array) => free.call(backend, array) };
}
