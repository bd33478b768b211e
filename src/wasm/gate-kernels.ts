import { f32x4, i32, v128, type I32, type Local, type V128 } from './expr.js';
import type { FunctionBuilder, ModuleBuilder } from './module-builder.js';
import { storeLanes } from './gemm-kernels.js';
import { mathConstants, sigmoid, tanh, expNonPositive, type MathConstants } from './vector-math.js';

/**
 * The recurrent cells' elementwise kernels on four float32 lanes: the same computations, buffer
 * layouts and aliasing rules as the JS kernels in src/tensor/kernels/recurrent-*.ts (which hold
 * the derivations), with σ and tanh from vector-math.ts and every product in float32. Pointers are
 * byte addresses of element 0 of the time step; row strides follow from B and H:
 *
 *   lstm_gates_forward(B, H, z [B,4H], cPrev [B,H], c [B,H], h [B,H], saved [B,5H])
 *   lstm_gates_backward(B, H, saved [B,5H], cPrev [B,H], dh [B,H], dcNext [B,H], dz [B,4H], dcPrev [B,H])
 *   multiplicative_forward(n, xm, hm, m)            m = xm ⊙ hm
 *   multiplicative_backward(n, dm, xm, hm, dxm, dhm) dxm = dm ⊙ hm, dhm = dm ⊙ xm
 *   tanh_forward(n, z, h)                           h = tanh(z)
 *   tanh_backward(n, h, dh, dz)                     dz = dh ⊙ (1 − h)(1 + h)
 *   sigmoid_map(n, x, y), exp_nonpositive_map(n, x, y): the bare functions, for the accuracy tests.
 *
 * Rows whose length is not a multiple of 4 end with a vector computed like the others and stored
 * lane by lane, so an element's value never depends on its position. Loads there read up to 3
 * floats past a row (into the next row, or the memory's unallocated tail; see heap.ts). In-place
 * use is allowed where the JS kernels allow it (dcPrev = dcNext, dz = dh, c = cPrev): every
 * vector is loaded before its lanes are stored.
 *
 * 1 − t² (tanh′) is computed as (1 − t)(1 + t): for |t| near 1, t² rounds away the difference that
 * 1 − t keeps exactly (Sterbenz), so the float32 form stays within 2 ulps of the true product.
 */

type Store = (addr: I32, value: V128) => void;

/**
 * Runs body over `count` consecutive elements in vectors of 4: body(at, store) addresses its
 * operands at byte offset `at` and writes through `store`, which writes whole vectors, and only the
 * remaining 1–3 lanes in the final partial vector.
 */
function vectorLoop(f: FunctionBuilder, count: I32, body: (at: Local<'i32'>, store: Store) => void): void {
  const at = f.local('i32', 'at');
  const total = f.let(i32.shl(count, i32.const(2)), 'totalBytes');
  const whole = f.let(i32.and(total, i32.const(~15)), 'wholeBytes');
  f.set(at, i32.const(0));
  f.block((done) => {
    f.loop((next) => {
      f.brIf(done, i32.geU(at, whole));
      body(at, (addr, value) => f.emit(v128.store(addr, value)));
      f.set(at, i32.add(at, i32.const(16)));
      f.br(next);
    });
  });
  f.if(i32.ltU(at, total), () => {
    const rest = f.let(i32.shrU(i32.sub(total, at), i32.const(2)), 'restLanes');
    body(at, (addr, value) => storeLanes(f, f.let(addr), f.let(value), rest));
  });
}

/** `for (row = 0; row < rows; row++) body()`. */
function rowLoop(f: FunctionBuilder, rows: I32, body: () => void): void {
  const row = f.local('i32', 'row');
  f.set(row, i32.const(0));
  f.block((done) => {
    f.loop((next) => {
      f.brIf(done, i32.geU(row, rows));
      body();
      f.set(row, i32.add(row, i32.const(1)));
      f.br(next);
    });
  });
}

/** 1 − t² from a saved tanh t, as (1 − t)(1 + t). */
const dtanh = (c: MathConstants, t: V128): V128 => f32x4.mul(f32x4.sub(c.one, t), f32x4.add(c.one, t));

const at = (base: I32, offset: I32): I32 => i32.add(base, offset);

export function defineGateKernels(mb: ModuleBuilder): void {
  mb.function(
    'lstm_gates_forward',
    { B: 'i32', H: 'i32', z: 'i32', cPrev: 'i32', c: 'i32', h: 'i32', saved: 'i32' },
    [],
    (f, { B, H, z, cPrev, c, h, saved }) => {
      const k = mathConstants(f);
      const gate = [0, 1, 2, 3, 4].map((g) => f.let(i32.mul(H, i32.const(4 * g)), `gate${g}`)); // byte offset of block g in a row
      rowLoop(f, B, () => {
        vectorLoop(f, H, (j, store) => {
          const zj = f.let(at(z, j));
          const si = sigmoid(f, k, v128.load(zj));
          const sf = sigmoid(f, k, v128.load(at(zj, gate[1]!)));
          const tg = tanh(f, k, v128.load(at(zj, gate[2]!)));
          const so = sigmoid(f, k, v128.load(at(zj, gate[3]!)));
          const cn = f.let(f32x4.add(f32x4.mul(sf, v128.load(at(cPrev, j))), f32x4.mul(si, tg)));
          const tc = tanh(f, k, cn);
          store(at(c, j), cn);
          store(at(h, j), f32x4.mul(so, tc));
          const sj = f.let(at(saved, j));
          store(sj, si);
          store(at(sj, gate[1]!), sf);
          store(at(sj, gate[2]!), tg);
          store(at(sj, gate[3]!), so);
          store(at(sj, gate[4]!), tc);
        });
        f.set(z, at(z, gate[4]!)); // next row: z advances 4H floats, saved 5H, the others H
        f.set(saved, i32.add(saved, i32.add(gate[4]!, gate[1]!)));
        for (const p of [cPrev, c, h]) f.set(p, at(p, gate[1]!));
      });
    },
  );

  mb.function(
    'lstm_gates_backward',
    { B: 'i32', H: 'i32', saved: 'i32', cPrev: 'i32', dh: 'i32', dcNext: 'i32', dz: 'i32', dcPrev: 'i32' },
    [],
    (f, { B, H, saved, cPrev, dh, dcNext, dz, dcPrev }) => {
      const k = mathConstants(f);
      const gate = [0, 1, 2, 3, 4].map((g) => f.let(i32.mul(H, i32.const(4 * g)), `gate${g}`));
      rowLoop(f, B, () => {
        vectorLoop(f, H, (j, store) => {
          const sj = f.let(at(saved, j));
          const si = f.let(v128.load(sj));
          const sf = f.let(v128.load(at(sj, gate[1]!)));
          const tg = f.let(v128.load(at(sj, gate[2]!)));
          const so = f.let(v128.load(at(sj, gate[3]!)));
          const tc = f.let(v128.load(at(sj, gate[4]!)));
          const dhv = f.let(v128.load(at(dh, j)));
          const cp = f.let(v128.load(at(cPrev, j)));
          const dc = f.let(f32x4.add(f32x4.mul(f32x4.mul(dhv, so), dtanh(k, tc)), v128.load(at(dcNext, j))));
          const zj = f.let(at(dz, j));
          store(zj, f32x4.mul(f32x4.mul(f32x4.mul(dc, tg), si), f32x4.sub(k.one, si)));
          store(at(zj, gate[1]!), f32x4.mul(f32x4.mul(f32x4.mul(dc, cp), sf), f32x4.sub(k.one, sf)));
          store(at(zj, gate[2]!), f32x4.mul(f32x4.mul(dc, si), dtanh(k, tg)));
          store(at(zj, gate[3]!), f32x4.mul(f32x4.mul(f32x4.mul(dhv, tc), so), f32x4.sub(k.one, so)));
          store(at(dcPrev, j), f32x4.mul(dc, sf));
        });
        f.set(saved, i32.add(saved, i32.add(gate[4]!, gate[1]!)));
        f.set(dz, at(dz, gate[4]!));
        for (const p of [cPrev, dh, dcNext, dcPrev]) f.set(p, at(p, gate[1]!));
      });
    },
  );

  mb.function('multiplicative_forward', { n: 'i32', xm: 'i32', hm: 'i32', m: 'i32' }, [], (f, { n, xm, hm, m }) => {
    vectorLoop(f, n, (j, store) => store(at(m, j), f32x4.mul(v128.load(at(xm, j)), v128.load(at(hm, j)))));
  });

  mb.function(
    'multiplicative_backward',
    { n: 'i32', dm: 'i32', xm: 'i32', hm: 'i32', dxm: 'i32', dhm: 'i32' },
    [],
    (f, { n, dm, xm, hm, dxm, dhm }) => {
      vectorLoop(f, n, (j, store) => {
        const g = f.let(v128.load(at(dm, j)));
        const x = f.let(v128.load(at(xm, j)));
        const y = f.let(v128.load(at(hm, j)));
        store(at(dxm, j), f32x4.mul(g, y));
        store(at(dhm, j), f32x4.mul(g, x));
      });
    },
  );

  mb.function('tanh_forward', { n: 'i32', z: 'i32', h: 'i32' }, [], (f, { n, z, h }) => {
    const k = mathConstants(f);
    vectorLoop(f, n, (j, store) => store(at(h, j), tanh(f, k, v128.load(at(z, j)))));
  });

  mb.function('tanh_backward', { n: 'i32', h: 'i32', dh: 'i32', dz: 'i32' }, [], (f, { n, h, dh, dz }) => {
    const k = mathConstants(f);
    vectorLoop(f, n, (j, store) => {
      const t = f.let(v128.load(at(h, j)));
      const g = f.let(v128.load(at(dh, j)));
      store(at(dz, j), f32x4.mul(g, dtanh(k, t)));
    });
  });

  mb.function('sigmoid_map', { n: 'i32', x: 'i32', y: 'i32' }, [], (f, { n, x, y }) => {
    const k = mathConstants(f);
    vectorLoop(f, n, (j, store) => store(at(y, j), sigmoid(f, k, v128.load(at(x, j)))));
  });

  mb.function('exp_nonpositive_map', { n: 'i32', x: 'i32', y: 'i32' }, [], (f, { n, x, y }) => {
    const k = mathConstants(f);
    vectorLoop(f, n, (j, store) => store(at(y, j), expNonPositive(f, k, v128.load(at(x, j)))));
  });
}
