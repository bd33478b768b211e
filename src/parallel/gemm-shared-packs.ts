import type { PrepareBArgs } from '../tensor/backend.js';
import type { Storage } from '../tensor/dtype.js';
import type { UnnumberedMessage } from './gemm-parallel-protocol.js';
import { BlockedPackedB, packedLength } from '../tensor/kernels/gemm-prepared.js';

/*
 * The prepared op(B)s of the parallel GEMM live in shared memory ("slots") that the workers were
 * sent once; this file decides which slot a prepareB packs into, so that training reuses the same
 * few slots step after step instead of allocating (and messaging) new shared memory:
 *
 * - A caller that says it is done with a prepared operand (Backend.releaseB: the recurrent ops do,
 *   after their time loop) returns its slot to a free list per layout (k, n); the next prepareB of
 *   that layout, of whatever b, repacks it. This is what keeps a weight-normalised model (a new
 *   weight array every window) from piling up slots.
 * - Otherwise a slot stays with its b and addressing and is repacked by the next prepareB of them;
 *   when that b is garbage-collected, its slots are dropped (FinalizationRegistry; only when the
 *   program returns to its event loop, hence the explicit release above).
 * A prepared operand whose slot was repacked or released since is stale: using it throws.
 */

/** One shared prepared op(B): where it lives and how often it has been (re)packed. */
export interface SharedSlot {
  readonly id: number;
  readonly k: number;
  readonly n: number;
  readonly storage: Float64Array; // over a SharedArrayBuffer the workers hold
  /** Incremented by every prepareB into this slot and by its release. */
  generation: number;
  /** The b whose slot list holds this slot now (undefined while free). */
  owner?: OwnedSlots;
  bOffset: number;
  ldb: number;
  transB: boolean;
}

interface OwnedSlots {
  slots: SharedSlot[];
  ids: number[]; // what the finalizer drops when b is collected
}

/** Slots kept per b: a caller that prepares more addressings of one b than this loses its oldest. */
const SLOTS_PER_OPERAND = 8;
/** Free slots kept per layout: enough for the weights of a deep stack released at the end of a window. */
const FREE_PER_LAYOUT = 8;

/**
 * op(B) prepared by ParallelGemm: a BlockedPackedB whose panels are in a shared slot. Valid until
 * the slot is repacked (the next prepareB of the same b and addressing) or released: using it
 * after that throws instead of silently reading other values.
 */
export class SharedPackedB extends BlockedPackedB {
  readonly generation: number;

  constructor(
    k: number,
    n: number,
    b: Storage,
    bOffset: number,
    ldb: number,
    transB: boolean,
    readonly slot: SharedSlot,
  ) {
    super(k, n, b, bOffset, ldb, transB, slot.storage);
    this.generation = slot.generation;
  }

  override check(fn: string, k: number, n: number, b: Storage, bOffset: number, ldb: number, transB: boolean): void {
    super.check(fn, k, n, b, bOffset, ldb, transB);
    if (this.slot.generation !== this.generation) {
      throw new Error(
        `${fn}: packedB is stale: op(B) ${k}×${n} was released, or this b prepared again, since it was made; ` +
          'a prepared operand is valid until its releaseB or the next prepareB of the same b on this backend',
      );
    }
  }
}

/** Which shared slot each prepareB packs into, and when the workers may drop one (see the top of this file). */
export class SharedPacks {
  private nextId = 0;
  private readonly owned = new WeakMap<Storage, OwnedSlots>();
  private readonly free = new Map<string, SharedSlot[]>();
  /** When a b with slots is garbage-collected, the workers drop those slots too. */
  private readonly finalizer = new FinalizationRegistry<number[]>((ids) => {
    for (const id of ids) this.send({ kind: 'drop', id });
  });

  constructor(private readonly send: (message: UnnumberedMessage) => void) {}

  /** Packs op(B) into a slot (its own, a free one of its layout, or a new one) and returns it prepared. */
  prepare(args: PrepareBArgs): SharedPackedB {
    const { k, n, b } = args;
    const transB = args.transB ?? false;
    const bOffset = args.bOffset ?? 0;
    const ldb = args.ldb ?? (transB ? k : n);
    let owner = this.owned.get(b);
    if (owner === undefined) {
      owner = { slots: [], ids: [] };
      this.owned.set(b, owner);
      this.finalizer.register(b, owner.ids);
    }
    let slot = owner.slots.find((s) => s.k === k && s.n === n && s.bOffset === bOffset && s.ldb === ldb && s.transB === transB);
    if (slot === undefined) {
      if (owner.slots.length === SLOTS_PER_OPERAND) this.release(owner.slots[0]!);
      slot = this.free.get(layoutKey(k, n))?.pop() ?? this.create(k, n);
      slot.bOffset = bOffset;
      slot.ldb = ldb;
      slot.transB = transB;
      slot.owner = owner;
      owner.slots.push(slot);
      owner.ids.push(slot.id);
    }
    slot.generation++;
    return new SharedPackedB(k, n, b, bOffset, ldb, transB, slot);
  }

  /** The caller is done with `prepared`: its slot goes to the free list of its layout (stale from now on). */
  releasePrepared(prepared: SharedPackedB): void {
    if (prepared.slot.generation === prepared.generation) this.release(prepared.slot);
  }

  private create(k: number, n: number): SharedSlot {
    const buffer = new SharedArrayBuffer(packedLength(k, n) * 8);
    const slot: SharedSlot = {
      id: this.nextId++,
      k,
      n,
      storage: new Float64Array(buffer),
      generation: 0,
      bOffset: 0,
      ldb: 0,
      transB: false,
    };
    this.send({ kind: 'packed', id: slot.id, buffer, k, n });
    return slot;
  }

  private release(slot: SharedSlot): void {
    slot.generation++; // whatever was prepared in it is stale now
    const owner = slot.owner;
    if (owner !== undefined) {
      owner.slots.splice(owner.slots.indexOf(slot), 1);
      owner.ids.splice(owner.ids.indexOf(slot.id), 1);
      slot.owner = undefined;
    }
    const key = layoutKey(slot.k, slot.n);
    let list = this.free.get(key);
    if (list === undefined) this.free.set(key, (list = []));
    if (list.length < FREE_PER_LAYOUT) list.push(slot);
    else this.send({ kind: 'drop', id: slot.id });
  }
}

const layoutKey = (k: number, n: number): string => `${k}x${n}`;
