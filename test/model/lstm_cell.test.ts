/**
 * The fused LSTM path on wasm: the cell kernels (SIMD and plain JS) against
 * a double-precision reference of the equations, the fused layer against
 * the plain-op layer (forward and gradients, every option it takes), that it
 * is really the path taken, and that it leaks nothing.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/model/backend';
import { LSTM_CELL, LSTM_CELL_GRAD, LSTM_RECURRENT_GRAD, lstmCellImpl, useJsLstmCells } from '../../src/model/kernels';
import { lstmCellBackwardJs, lstmCellForwardJs, NONE } from '../../src/model/kernels/lstm_cell';
import { simdColumnSum, simdLstmKernels } from '../../src/model/kernels/simd';
import { sumMiddleAxis } from '../../src/model/kernels/copy';
import { floatOffset, heapF32, asWasmBackend } from '../../src/model/kernels/wasm_heap';
import { createLstmParams, disposeRecurrentParams, lstm, recurrentVariables, type Activation } from '../../src/model/lstm';

function seeded(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * scale;
  });
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const savedEnv = { backend: process.env.RUBATO_TF_BACKEND, fused: process.env.RUBATO_LSTM_FUSED };
beforeAll(async () => {
  delete process.env.RUBATO_TF_BACKEND;
  delete process.env.RUBATO_LSTM_FUSED;
  await initBackend('wasm', { logger: () => undefined, fastKernels: true });
});
afterAll(() => {
  useJsLstmCells(false);
  for (const [k, v] of [
    ['RUBATO_TF_BACKEND', savedEnv.backend],
    ['RUBATO_LSTM_FUSED', savedEnv.fused],
  ] as const) {
    if (v == null) delete process.env[k];
    else process.env[k] = v;
  }
});

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

describe('cell arithmetic against a double-precision reference', () => {
  const [R, H, T, t] = [5, 8, 3, 1];
  // Heap layout for the pure routines: a plain Float32Array with the regions below.
  const layout = { xp: 0, hw: R * T * 4 * H, c: 0, h: 0, mask: 0, hOut: 0, cOut: 0, cache: 0 };
  layout.c = layout.hw + R * 4 * H;
  layout.h = layout.c + R * H;
  layout.mask = layout.h + R * H;
  layout.hOut = layout.mask + R * T;
  layout.cOut = layout.hOut + R * H;
  layout.cache = layout.cOut + R * H;
  const size = layout.cache + R * 5 * H;
  const init = () => {
    const heap = new Float32Array(size);
    heap.set(seeded(R * T * 4 * H, 1, 3), layout.xp);
    heap.set(seeded(R * 4 * H, 2, 2), layout.hw);
    heap.set(seeded(R * H, 3), layout.c);
    heap.set(seeded(R * H, 4), layout.h);
    // Step t = 1 of the 5 rows: padded, real, half (a fractional mask), real, padded.
    heap.set([1, 0, 1, 1, 1, 1, 0, 0.5, 1, 0, 1, 1, 1, 0, 1], layout.mask);
    return heap;
  };
  const fwdArgs = {
    rows: R,
    units: H,
    xp: layout.xp + t * 4 * H,
    xpStride: T * 4 * H,
    hw: layout.hw,
    c: layout.c,
    h: layout.h,
    mask: layout.mask + t,
    maskStride: T,
    hOut: layout.hOut,
    cOut: layout.cOut,
    cache: layout.cache,
  };

  it('forward: h, c and the cache', () => {
    const heap = init();
    lstmCellForwardJs(heap, fwdArgs);
    let worst = 0;
    for (let r = 0; r < R; r++) {
      const m = heap[layout.mask + r * T + t];
      for (let j = 0; j < H; j++) {
        const z = (k: number) => heap[layout.xp + (r * T + t) * 4 * H + k * H + j] + heap[layout.hw + r * 4 * H + k * H + j];
        const [i, f, g, o] = [sigmoid(z(0)), sigmoid(z(1)), Math.tanh(z(2)), sigmoid(z(3))];
        const cp = heap[layout.c + r * H + j];
        const hp = heap[layout.h + r * H + j];
        const cn = f * cp + i * g;
        const hn = o * Math.tanh(cn);
        worst = Math.max(worst, Math.abs(heap[layout.cOut + r * H + j] - (cp + m * (cn - cp))));
        worst = Math.max(worst, Math.abs(heap[layout.hOut + r * H + j] - (hp + m * (hn - hp))));
        worst = Math.max(worst, Math.abs(heap[layout.cache + r * 5 * H + 4 * H + j] - Math.tanh(cn)));
      }
    }
    expect(worst).toBeLessThan(2e-6);
  });

  it('backward: dz, carry and dc against finite differences of the forward step', () => {
    // Loss = sum(wh * h_t) + sum(wc * c_t); its gradient through one step, checked numerically.
    const wh = seeded(R * H, 7);
    const wc = seeded(R * H, 8);
    const loss = (heap: Float32Array) => {
      lstmCellForwardJs(heap, fwdArgs);
      let s = 0;
      for (let k = 0; k < R * H; k++) s += wh[k] * heap[layout.hOut + k] + wc[k] * heap[layout.cOut + k];
      return s;
    };
    // Backward heap: the forward regions, then dy, dc in; dz, carry, dc out.
    const dy = size;
    const dcIn = dy + R * H;
    const dz = dcIn + R * H;
    const carry = dz + R * 4 * H;
    const dc = carry + R * H;
    const g = new Float32Array(dc + R * H);
    const heap = init();
    lstmCellForwardJs(heap, fwdArgs);
    g.set(heap);
    g.set(wh, dy);
    g.set(wc, dcIn);
    lstmCellBackwardJs(g, {
      rows: R,
      units: H,
      cache: layout.cache,
      c: layout.c,
      h: NONE,
      dy,
      dyStride: H,
      alpha: 1,
      carry: NONE,
      dhw: NONE,
      dc: dcIn,
      mask: layout.mask + t,
      maskStride: T,
      dz,
      carryOut: carry,
      dcOut: dc,
    });
    const eps = 1e-3;
    const numeric = (index: number) => {
      const a = init();
      a[index] += eps;
      const b = init();
      b[index] -= eps;
      return (loss(a) - loss(b)) / (2 * eps);
    };
    let worst = 0;
    for (let r = 0; r < R; r++) {
      for (const j of [0, 3, H - 1]) {
        // dz of gate k is the derivative with respect to its pre-activation: perturb xp.
        for (let k = 0; k < 4; k++) {
          worst = Math.max(worst, Math.abs(g[dz + r * 4 * H + k * H + j] - numeric(layout.xp + (r * T + t) * 4 * H + k * H + j)));
        }
        worst = Math.max(worst, Math.abs(g[dc + r * H + j] - numeric(layout.c + r * H + j)));
        // h_{t-1} reaches h_t only through the mask here (the matMul part is the caller's).
        worst = Math.max(worst, Math.abs(g[carry + r * H + j] - numeric(layout.h + r * H + j)));
      }
    }
    expect(worst).toBeLessThan(2e-3);
  });
});

describe('SIMD kernels equal the plain-JS ones', () => {
  it('runs SIMD here', () => {
    expect(lstmCellImpl(tf.backend(), 8)).toBe('simd');
    expect(lstmCellImpl(tf.backend(), 6)).toBe('js');
  });

  it.each([
    ['every input', true, true, true],
    ['t = 0: no hw, c, h', false, true, false],
    ['no mask, no cache (inference)', true, false, true],
  ])('forward, %s', (_label, state, masked, training) => {
    const backend = asWasmBackend(tf.backend());
    const simd = simdLstmKernels(backend)!;
    const [R, H, T, t] = [7, 12, 4, 2];
    tf.tidy(() => {
      const xp = tf.tensor3d(seeded(R * T * 4 * H, 11, 3), [R, T, 4 * H]);
      const hw = tf.tensor2d(seeded(R * 4 * H, 12, 2), [R, 4 * H]);
      const c = tf.tensor2d(seeded(R * H, 13), [R, H]);
      const h = tf.tensor2d(seeded(R * H, 14), [R, H]);
      const mask = tf.tensor2d(
        Array.from({ length: R * T }, (_, k) => (k % 3 === 0 ? 0 : 1)),
        [R, T],
      );
      const outs = () => [tf.zeros([R, H]), tf.zeros([R, H]), tf.zeros([R, 5 * H])].map((x) => tf.add(x, 0));
      const run = (f: typeof lstmCellForwardJs | null) => {
        const [hOut, cOut, cache] = outs();
        const a = {
          rows: R,
          units: H,
          xp: floatOffset(backend, xp) + t * 4 * H,
          xpStride: T * 4 * H,
          hw: state ? floatOffset(backend, hw) : NONE,
          c: state ? floatOffset(backend, c) : NONE,
          h: state ? floatOffset(backend, h) : NONE,
          mask: masked ? floatOffset(backend, mask) + t : NONE,
          maskStride: T,
          hOut: floatOffset(backend, hOut),
          cOut: floatOffset(backend, cOut),
          cache: training ? floatOffset(backend, cache) : NONE,
        };
        if (f) f(heapF32(backend), a);
        else simd.forward(a);
        return [hOut, cOut, cache].map((x) => Array.from(x.dataSync()));
      };
      const js = run(lstmCellForwardJs);
      const sd = run(null);
      js.forEach((v, k) => expect(maxAbsDiff(sd[k], v)).toBeLessThan(1e-6));
    });
  });

  it.each([
    ['every input, LeakyReLU output', 0.2, true],
    ['t = 0 (no c, no carry outputs), linear', 1, false],
  ])('backward, %s', (_label, alpha, later) => {
    const backend = asWasmBackend(tf.backend());
    const simd = simdLstmKernels(backend)!;
    const [R, H, T, t] = [6, 8, 3, 1];
    tf.tidy(() => {
      const cache = tf.tensor2d(
        seeded(R * 5 * H, 21).map((v) => 0.5 + 0.45 * v),
        [R, 5 * H],
      );
      const c = tf.tensor2d(seeded(R * H, 22), [R, H]);
      const h = tf.tensor2d(seeded(R * H, 23), [R, H]);
      const dy = tf.tensor3d(seeded(R * T * H, 24), [R, T, H]);
      const carry = tf.tensor2d(seeded(R * H, 25), [R, H]);
      const dhw = tf.tensor2d(seeded(R * H, 26), [R, H]);
      const dc = tf.tensor2d(seeded(R * H, 27), [R, H]);
      const mask = tf.tensor2d(
        Array.from({ length: R * T }, (_, k) => (k % 4 === 1 ? 0 : 1)),
        [R, T],
      );
      const run = (f: typeof lstmCellBackwardJs | null) => {
        const [dz, carryOut, dcOut] = [tf.zeros([R, 4 * H]), tf.zeros([R, H]), tf.zeros([R, H])].map((x) => tf.add(x, 0));
        const a = {
          rows: R,
          units: H,
          cache: floatOffset(backend, cache),
          c: later ? floatOffset(backend, c) : NONE,
          h: floatOffset(backend, h),
          dy: floatOffset(backend, dy) + t * H,
          dyStride: T * H,
          alpha: Math.fround(alpha),
          carry: later ? floatOffset(backend, carry) : NONE,
          dhw: later ? floatOffset(backend, dhw) : NONE,
          dc: later ? floatOffset(backend, dc) : NONE,
          mask: floatOffset(backend, mask) + t,
          maskStride: T,
          dz: floatOffset(backend, dz),
          carryOut: later ? floatOffset(backend, carryOut) : NONE,
          dcOut: later ? floatOffset(backend, dcOut) : NONE,
        };
        if (f) f(heapF32(backend), a);
        else simd.backward(a);
        return [dz, carryOut, dcOut].map((x) => Array.from(x.dataSync()));
      };
      const js = run(lstmCellBackwardJs);
      const sd = run(null);
      js.forEach((v, k) => expect(maxAbsDiff(sd[k], v)).toBeLessThan(1e-6));
    });
  });

  it('column sums are bit-identical to the JS loop', () => {
    const backend = asWasmBackend(tf.backend());
    const colsum = simdColumnSum(backend)!;
    tf.tidy(() => {
      for (const [rows, cols] of [
        [1, 4],
        [9, 8],
        [513, 20],
      ]) {
        const x = tf.tensor2d(seeded(rows * cols, rows + cols, 100), [rows, cols]);
        const out = tf.add(tf.zeros([cols]), 0);
        colsum(rows, cols, floatOffset(backend, x), floatOffset(backend, out));
        const expected = new Float32Array(cols);
        sumMiddleAxis(x.dataSync() as Float32Array, 1, rows, cols, expected);
        expect(Array.from(out.dataSync())).toEqual(Array.from(expected));
      }
    });
  });
});

describe('the fused layer against the plain-op layer', () => {
  type Case = [
    string,
    { D: number; H: number; T: number; layers: number; act: Activation; mask: boolean; sequences: boolean; js?: boolean },
  ];
  const cases: Case[] = [
    ['2 layers, LeakyReLU, masked, last output', { D: 7, H: 8, T: 5, layers: 2, act: 'leakyRelu', mask: true, sequences: false }],
    [
      'sequence and last both in the loss',
      { D: 5, H: 12, T: 4, layers: 2, act: { name: 'leakyRelu', alpha: 0.1 }, mask: true, sequences: true },
    ],
    ['linear output, no mask', { D: 6, H: 8, T: 3, layers: 1, act: 'linear', mask: false, sequences: true }],
    ['ReLU output', { D: 4, H: 4, T: 3, layers: 2, act: 'relu', mask: true, sequences: false }],
    ['one step (no recurrent product)', { D: 4, H: 8, T: 1, layers: 2, act: 'leakyRelu', mask: true, sequences: true }],
    ['width 6: plain-JS cells', { D: 5, H: 6, T: 4, layers: 2, act: 'leakyRelu', mask: true, sequences: false }],
    ['plain-JS cells forced', { D: 5, H: 8, T: 4, layers: 2, act: 'leakyRelu', mask: true, sequences: true, js: true }],
  ];

  it.each(cases)('%s', (_label, c) => {
    const B = 9;
    const p = createLstmParams(c.D, c.H, c.layers, 5);
    const x = tf.tensor3d(seeded(B * c.T * c.D, 31), [B, c.T, c.D]);
    const mask = c.mask
      ? tf.tensor2d(
          Array.from({ length: B * c.T }, (_, k) => (k % c.T >= Math.floor(k / c.T) % c.T ? 1 : 0)),
          [B, c.T],
        )
      : undefined;
    const weights = tf.tensor1d(seeded(c.T * c.H, 32));
    const vars = recurrentVariables(p);
    const run = (fused: boolean) => {
      if (fused) delete process.env.RUBATO_LSTM_FUSED;
      else process.env.RUBATO_LSTM_FUSED = '0';
      useJsLstmCells(Boolean(c.js));
      return tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const out = lstm(p, x, { mask, outputActivation: c.act, returnSequences: c.sequences });
          let loss = tf.sum(tf.mul(tf.square(out.last), tf.slice(weights, 0, c.H)));
          if (out.sequence) loss = tf.add(loss, tf.sum(tf.mul(tf.reshape(out.sequence, [B, c.T * c.H]), weights)));
          return loss as tf.Scalar;
        }, vars);
        const infer = lstm(p, x, { mask, outputActivation: c.act, returnSequences: c.sequences });
        return {
          loss: value.dataSync()[0],
          grads: vars.map((v) => Array.from(grads[v.name].dataSync())),
          last: Array.from(infer.last.dataSync()),
          sequence: infer.sequence ? Array.from(infer.sequence.dataSync()) : [],
        };
      });
    };
    const profileKernels = async () => {
      delete process.env.RUBATO_LSTM_FUSED;
      const info = await tf.profile(() =>
        tf.tidy(() => {
          tf.variableGrads(() => tf.sum(lstm(p, x, { mask, outputActivation: c.act }).last) as tf.Scalar, vars);
        }),
      );
      return new Set(info.kernels.map((k) => k.name));
    };
    const fused = run(true);
    const plain = run(false);
    useJsLstmCells(false);
    delete process.env.RUBATO_LSTM_FUSED;
    expect(Math.abs(fused.loss - plain.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(plain.loss)));
    fused.grads.forEach((g, k) => expect(maxAbsDiff(g, plain.grads[k])).toBeLessThan(1e-5));
    expect(maxAbsDiff(fused.last, plain.last)).toBeLessThan(1e-6);
    expect(maxAbsDiff(fused.sequence, plain.sequence)).toBeLessThan(1e-6);
    return profileKernels().then((names) => {
      expect(names.has(LSTM_CELL)).toBe(true);
      expect(names.has(LSTM_CELL_GRAD)).toBe(true);
      // dW_h accumulated by one kernel when the cells run SIMD and there is more than one step.
      expect(names.has(LSTM_RECURRENT_GRAD)).toBe(c.T > 1 && c.H % 4 === 0);
      tf.dispose([x, weights, ...(mask ? [mask] : [])]);
      disposeRecurrentParams(p);
    });
  });

  it('a masked step in the middle carries h over exactly', () => {
    const p = createLstmParams(3, 8, 1, 6);
    const x = tf.tensor3d(seeded(2 * 4 * 3, 41), [2, 4, 3]);
    const mask = tf.tensor2d([1, 1, 0, 1, 1, 0, 1, 1], [2, 4]);
    const seq = lstm(p, x, { mask, returnSequences: true, outputActivation: 'leakyRelu' }).sequence!;
    const s = seq.arraySync();
    expect(s[0][2]).toEqual(s[0][1]);
    expect(s[1][1]).toEqual(s[1][0]);
    tf.dispose([x, mask, seq]);
    disposeRecurrentParams(p);
  });

  it('training and inference leave no tensors or buffers behind', () => {
    const p = createLstmParams(5, 8, 2, 7);
    const x = tf.tensor3d(seeded(6 * 4 * 5, 51), [6, 4, 5]);
    const mask = tf.tensor2d(
      Array.from({ length: 24 }, (_, k) => (k % 4 >= (k >> 2) % 4 ? 1 : 0)),
      [6, 4],
    );
    const vars = recurrentVariables(p);
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(
          () => tf.sum(lstm(p, x, { mask, outputActivation: 'leakyRelu' }).last) as tf.Scalar,
          vars,
        );
        value.dataSync();
        Object.values(grads).forEach((g) => g.dataSync());
      });
    step();
    const tensors = tf.memory().numTensors;
    const ids = tf.engine().backend.numDataIds();
    for (let k = 0; k < 3; k++) step();
    tf.tidy(() => lstm(p, x, { mask, outputActivation: 'leakyRelu', returnSequences: true }).sequence!.dataSync());
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.engine().backend.numDataIds()).toBe(ids);
    tf.dispose([x, mask]);
    disposeRecurrentParams(p);
  });
});
