/**
 * Each fast wasm kernel against the stock tfjs-backend-wasm kernel it
 * replaces (run directly through its saved kernelFunc), on small random
 * inputs with odd sizes, several axes/perms/dtypes, and no leaked data ids.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/model/backend';
import { fastKernelsRegistered, runStockKernel } from '../../src/model/kernels';
import { copySlice, simplifyPermutation, transposeArray } from '../../src/model/kernels/copy';
import { tanhInto } from '../../src/model/kernels/tanh';

let seed = 1;
function rand(shape: number[], dtype: 'float32' | 'int32' | 'bool' = 'float32'): tf.Tensor {
  if (dtype === 'float32') return tf.randomNormal(shape, 0, 1, 'float32', seed++);
  if (dtype === 'int32') return tf.randomUniform(shape, -1000, 1000, 'int32', seed++);
  return tf.greater(tf.randomUniform(shape, 0, 1, 'float32', seed++), 0.5);
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(Number(x[i]) - Number(y[i])));
  return m;
}

function expectSame(fast: tf.Tensor, stock: tf.Tensor, tol = 0): void {
  expect(fast.shape).toEqual(stock.shape);
  expect(fast.dtype).toBe(stock.dtype);
  expect(maxAbsDiff(fast, stock)).toBeLessThanOrEqual(tol);
}

function numDataIds(): number {
  return tf.engine().backend.numDataIds();
}

/** Runs `fn` and checks no tensor or backend buffer outlives it. */
function noLeak(fn: () => void): void {
  const tensors = tf.memory().numTensors;
  const ids = numDataIds();
  fn();
  expect(tf.memory().numTensors).toBe(tensors);
  expect(numDataIds()).toBe(ids);
}

function stock1(name: string, inputs: Record<string, tf.Tensor>, attrs: tf.NamedAttrMap): tf.Tensor {
  return runStockKernel(name, inputs, attrs) as tf.Tensor;
}

const savedEnv = process.env.RUBATO_TF_BACKEND;
beforeAll(async () => {
  delete process.env.RUBATO_TF_BACKEND;
  const info = await initBackend('wasm', { logger: () => undefined, fastKernels: true });
  expect(info.name).toBe('wasm');
});
afterAll(() => {
  if (savedEnv != null) process.env.RUBATO_TF_BACKEND = savedEnv;
});

describe('registration', () => {
  it('replaces the stock kernels on wasm', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(fastKernelsRegistered()).toBe(true);
  });
});

describe('BatchMatMul', () => {
  const sizes: [number, number, number][] = [
    [7, 5, 3],
    [1, 9, 4],
    [13, 1, 6],
    [33, 65, 17],
    // n % 4 == 0: Aᵀ·B runs our SIMD kernel (4-row and single-row tiles, 8- and 4-column blocks, k in chunks of 256).
    [82, 300, 20],
    [6, 513, 12],
    [9, 40, 64],
  ];
  for (const [m, k, n] of sizes) {
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        it(`[${m}x${k}]·[${k}x${n}] transposeA=${transposeA} transposeB=${transposeB}`, () =>
          noLeak(() =>
            tf.tidy(() => {
              const a = rand(transposeA ? [k, m] : [m, k]);
              const b = rand(transposeB ? [n, k] : [k, n]);
              const fast = tf.matMul(a, b, transposeA, transposeB);
              const stock = stock1('BatchMatMul', { a, b }, { transposeA, transposeB });
              expectSame(fast, stock, 1e-4);
            }),
          ));
      }
    }
  }

  for (const transposeA of [false, true]) {
    for (const transposeB of [false, true]) {
      it(`batch 3 with transposeA=${transposeA} transposeB=${transposeB}`, () =>
        noLeak(() =>
          tf.tidy(() => {
            const a = rand(transposeA ? [3, 6, 5] : [3, 5, 6]);
            const b = rand(transposeB ? [3, 7, 6] : [3, 6, 7]);
            const fast = tf.matMul(a, b, transposeA, transposeB);
            const stock = stock1('BatchMatMul', { a, b }, { transposeA, transposeB });
            expectSame(fast, stock, 1e-4);
          }),
        ));
    }
  }

  it('broadcasts a shared B over the batch of A (folded into rows)', () =>
    noLeak(() =>
      tf.tidy(() => {
        const a = rand([2, 3, 5, 4]);
        const b = rand([4, 6]);
        const fast = tf.matMul(a, b, false, false);
        expect(fast.shape).toEqual([2, 3, 5, 6]);
        // Reference: the same product one batch at a time through plain 2-D matMuls.
        const ref = tf.stack(tf.unstack(tf.reshape(a, [6, 5, 4])).map((ai) => tf.matMul(ai, b)));
        expectSame(fast, tf.reshape(ref, [2, 3, 5, 6]), 1e-4);
      }),
    ));

  it('broadcasts batch dims of A and B both ways', () =>
    noLeak(() =>
      tf.tidy(() => {
        const a = rand([2, 1, 3, 4]);
        const b = rand([1, 3, 5, 4]);
        const fast = tf.matMul(a, b, false, true);
        expect(fast.shape).toEqual([2, 3, 3, 5]);
        const av = tf.unstack(tf.reshape(a, [2, 3, 4]));
        const bv = tf.unstack(tf.reshape(b, [3, 5, 4]));
        const parts: tf.Tensor[] = [];
        for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) parts.push(tf.matMul(av[i], bv[j], false, true));
        expectSame(fast, tf.reshape(tf.stack(parts), [2, 3, 3, 5]), 1e-4);
      }),
    ));

  it('rejects mismatched inner dimensions like the stock kernel', () => {
    const a = tf.zeros([3, 4]);
    const b = tf.zeros([5, 6]);
    expect(() => tf.matMul(a, b, true, false)).toThrow(/inner shapes/);
    tf.dispose([a, b]);
  });
});

describe('_FusedMatMul', () => {
  for (const transposeA of [false, true]) {
    for (const transposeB of [false, true]) {
      it(`bias + relu, transposeA=${transposeA} transposeB=${transposeB}`, () =>
        noLeak(() =>
          tf.tidy(() => {
            const a = rand(transposeA ? [1, 9, 7] : [1, 7, 9]);
            const b = rand(transposeB ? [1, 5, 9] : [1, 9, 5]);
            const bias = rand([5]);
            const fast = tf.fused.matMul({ a, b, bias, transposeA, transposeB, activation: 'relu' });
            // Reference: unfused ops. (The stock kernel's transposed path is
            // not a valid reference: it indexes the bias by flat output
            // position, so only row 0 gets the right bias.)
            const ref = tf.relu(tf.add(tf.matMul(a, b, transposeA, transposeB), bias));
            expectSame(fast, ref, 1e-4);
            if (!transposeA && !transposeB) {
              const stock = stock1('_FusedMatMul', { a, b, bias }, { transposeA, transposeB, activation: 'relu', leakyreluAlpha: 0 });
              expectSame(fast, stock, 1e-4);
            }
          }),
        ));
    }
  }
});

describe('Transpose', () => {
  const cases: [number[], number[]][] = [
    [[5, 7], [1, 0]],
    [[1, 9], [1, 0]],
    [[65, 33], [1, 0]],
    [[3, 4, 5], [0, 1, 2]],
    [[3, 4, 5], [0, 2, 1]],
    [[3, 4, 5], [1, 0, 2]],
    [[3, 4, 5], [1, 2, 0]],
    [[3, 4, 5], [2, 0, 1]],
    [[3, 4, 5], [2, 1, 0]],
    [[2, 1, 3, 4], [3, 2, 1, 0]],
    [[2, 3, 4, 5], [0, 3, 1, 2]],
    [[2, 3, 4, 5], [1, 3, 0, 2]],
    [[2, 3, 2, 3, 2], [4, 2, 0, 3, 1]],
  ];
  for (const [shape, perm] of cases) {
    for (const dtype of ['float32', 'int32'] as const) {
      it(`${dtype} [${shape}] perm [${perm}]`, () =>
        noLeak(() =>
          tf.tidy(() => {
            const x = rand(shape, dtype);
            expectSame(tf.transpose(x, perm), stock1('Transpose', { x }, { perm }));
          }),
        ));
    }
  }
  it('bool', () =>
    noLeak(() =>
      tf.tidy(() => {
        const x = rand([4, 3, 2], 'bool');
        expectSame(tf.transpose(x, [2, 0, 1]), stock1('Transpose', { x }, { perm: [2, 0, 1] }));
      }),
    ));
});

describe('Slice', () => {
  const cases: [number[], number[], number[]][] = [
    [[10], [3], [4]],
    [[6, 5], [2, 0], [3, 5]], // leading axis: one contiguous run
    [[6, 5], [0, 1], [6, 3]],
    [[6, 5], [1, 2], [4, -1]],
    [[4, 5, 6], [1, 0, 0], [2, 5, 6]],
    [[4, 5, 6], [0, 2, 0], [4, 1, 6]], // one time step of [batch, time, dim]
    [[4, 5, 6], [1, 1, 2], [2, 3, 3]],
    [[3, 4, 5, 6], [1, 1, 1, 1], [2, 2, 3, 4]],
    [[2, 3, 4, 5, 3], [1, 0, 2, 1, 0], [1, 3, 2, 3, 2]],
    [[4, 5], [0, 0], [0, 5]], // empty
  ];
  for (const [shape, begin, size] of cases) {
    it(`[${shape}] begin [${begin}] size [${size}]`, () =>
      noLeak(() =>
        tf.tidy(() => {
          const x = rand(shape);
          expectSame(tf.slice(x, begin, size), stock1('Slice', { x }, { begin, size }));
        }),
      ));
  }
  it('int32 and bool', () =>
    noLeak(() =>
      tf.tidy(() => {
        for (const dtype of ['int32', 'bool'] as const) {
          const x = rand([5, 4, 3], dtype);
          expectSame(tf.slice(x, [1, 1, 0], [3, 2, 3]), stock1('Slice', { x }, { begin: [1, 1, 0], size: [3, 2, 3] }));
        }
      }),
    ));
  it('a whole-tensor slice shares the buffer', () =>
    noLeak(() => {
      const x = rand([3, 4]);
      const ids = numDataIds();
      const y = tf.slice(x, [0, 0], [3, 4]);
      expect(numDataIds()).toBe(ids);
      x.dispose();
      expect(Array.from(y.dataSync()).length).toBe(12);
      y.dispose();
    }));
});

describe('SplitV', () => {
  const cases: [number[], number | number[], number][] = [
    [[8, 6], 2, 0],
    [[8, 6], [1, 2, 3], 1],
    [[4, 12], 4, 1], // LSTM gates
    [[3, 4, 5], [2, -1], 1],
    [[3, 4, 5], [1, 1, 3], -1],
    [[3, 4, 5], 3, 0],
  ];
  for (const [shape, numOrSizeSplits, axis] of cases) {
    it(`[${shape}] into ${JSON.stringify(numOrSizeSplits)} along ${axis}`, () =>
      noLeak(() =>
        tf.tidy(() => {
          const x = rand(shape);
          const fast = tf.split(x, numOrSizeSplits, axis);
          const stock = runStockKernel('SplitV', { x }, { numOrSizeSplits, axis }) as tf.Tensor[];
          expect(fast.length).toBe(stock.length);
          fast.forEach((f, i) => expectSame(f, stock[i]));
        }),
      ));
  }
});

describe('Unpack', () => {
  const cases: [number[], number][] = [
    [[5], 0],
    [[4, 3], 0],
    [[4, 3], 1],
    [[3, 5, 7], 0],
    [[3, 5, 7], 1], // time steps of [batch, time, dim]
    [[3, 5, 7], 2],
    [[3, 5, 7], -1],
  ];
  for (const [shape, axis] of cases) {
    for (const dtype of ['float32', 'int32'] as const) {
      it(`${dtype} [${shape}] along ${axis}`, () =>
        noLeak(() =>
          tf.tidy(() => {
            const value = rand(shape, dtype);
            const fast = tf.unstack(value, axis);
            const stock = runStockKernel('Unpack', { value }, { axis }) as tf.Tensor[];
            expect(fast.length).toBe(stock.length);
            fast.forEach((f, i) => expectSame(f, stock[i]));
          }),
        ));
    }
  }
});

describe('Sum', () => {
  const cases: [number[], number | number[] | null, boolean][] = [
    [[7, 5], 0, false], // bias gradient
    [[7, 5], 0, true],
    [[7, 5], 1, false], // inner axis: stock path
    [[7, 5], null, false], // all axes: stock path
    [[4, 3, 5], [0, 1], false],
    [[4, 3, 5], 1, true], // middle axis
    [[4, 3, 5], [1, 0], false],
    [[4, 3, 5], [0, 2], false], // not contiguous: stock path
    [[4, 3, 5], -1, false],
    [[2, 3, 4, 5], [1, 2], true],
    [[1, 6], 0, false],
    // Rows a multiple of 4 wide: the SIMD column sums.
    [[9, 8], 0, false],
    [[3, 5, 12], 1, true],
    [[2, 3, 4, 8], [1, 2], false],
    [[1, 4], 0, false],
  ];
  for (const [shape, axis, keepDims] of cases) {
    it(`[${shape}] axis ${JSON.stringify(axis)} keepDims=${keepDims}`, () =>
      noLeak(() =>
        tf.tidy(() => {
          const x = rand(shape);
          const fast = tf.sum(x, axis ?? undefined, keepDims);
          const stock = stock1('Sum', { x }, { axis: axis ?? [...shape.keys()], keepDims });
          expectSame(fast, stock, 1e-5);
        }),
      ));
  }
  it('int32 along axis 0 is exact', () =>
    noLeak(() =>
      tf.tidy(() => {
        const x = rand([9, 4], 'int32');
        expectSame(tf.sum(x, 0), stock1('Sum', { x }, { axis: [0], keepDims: false }));
      }),
    ));
  it('bool is summed as int32 by the op', () =>
    noLeak(() =>
      tf.tidy(() => {
        const x = tf.tensor2d([true, false, true, true], [2, 2], 'bool');
        expect(Array.from(tf.sum(x, 0).dataSync())).toEqual([2, 1]);
      }),
    ));
});

describe('Identity', () => {
  it('shares the buffer and survives disposal of the source', () => {
    const before = numDataIds();
    const x = rand([4, 5]);
    const values = Array.from(x.dataSync());
    const y = tf.clone(x);
    expect(numDataIds()).toBe(before + 1); // no copy
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual(values);
    y.dispose();
    expect(numDataIds()).toBe(before);
  });
  it('matches the stock copy', () =>
    noLeak(() =>
      tf.tidy(() => {
        const x = rand([3, 2], 'int32');
        expectSame(tf.clone(x), stock1('Identity', { x }, {}));
      }),
    ));
});

describe('Tanh', () => {
  it('matches the stock kernel within float32 rounding, incl. large, tiny and special values', () =>
    noLeak(() =>
      tf.tidy(() => {
        const x = tf.concat([tf.reshape(tf.mul(rand([37, 11]), 4), [-1]), tf.tensor1d([0, -0, 1e-6, -3e-4, 5e-4, 8.9, 9.5, -20, 1e30, -Infinity, Infinity])]);
        const fast = tf.tanh(x);
        const stock = stock1('Tanh', { x }, {});
        expectSame(fast, stock, 2.5e-7);
        expect(Array.from(fast.dataSync().slice(-3))).toEqual([1, -1, 1]);
      }),
    ));
  it('NaN stays NaN', () =>
    noLeak(() => tf.tidy(() => expect(Number.isNaN(tf.tanh(tf.tensor1d([NaN])).dataSync()[0])).toBe(true))));
});

describe('gradients through the overridden kernels', () => {
  it('slice / split / unstack / transpose / matMul backward stay leak-free', () =>
    noLeak(() => {
      const x = rand([4, 3, 6]);
      const w = rand([6, 5]);
      const f = (xx: tf.Tensor, ww: tf.Tensor) => {
        const steps = tf.unstack(xx, 1) as tf.Tensor2D[];
        const parts = steps.map((s) => tf.split(tf.matMul(s, ww as tf.Tensor2D), [2, 3], 1)[1]);
        return tf.sum(tf.transpose(tf.slice(tf.stack(parts, 1), [1, 0, 0], [3, 3, 3]), [2, 0, 1]));
      };
      const grads = tf.grads(f)([x, w]);
      expect(grads[0].shape).toEqual([4, 3, 6]);
      expect(grads[1].shape).toEqual([6, 5]);
      tf.dispose([x, w, ...grads]);
    }));
});

describe('pure array routines', () => {
  it('simplifyPermutation merges adjacent axes and drops size-1 axes', () => {
    expect(simplifyPermutation([3, 4, 5], [2, 0, 1])).toEqual({ shape: [12, 5], perm: [1, 0] });
    expect(simplifyPermutation([3, 4, 5], [1, 2, 0])).toEqual({ shape: [3, 20], perm: [1, 0] });
    expect(simplifyPermutation([3, 1, 5], [1, 0, 2])).toEqual({ shape: [15], perm: [0] });
    expect(simplifyPermutation([2, 3, 4], [0, 2, 1])).toEqual({ shape: [2, 3, 4], perm: [0, 2, 1] });
    expect(simplifyPermutation([1, 1], [1, 0])).toEqual({ shape: [], perm: [] });
  });

  function naiveTranspose(src: Float32Array, shape: number[], perm: number[]): Float32Array {
    const outShape = perm.map((p) => shape[p]);
    const inStrides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
    const out = new Float32Array(src.length);
    for (let o = 0; o < out.length; o++) {
      let rem = o;
      let s = 0;
      for (let d = outShape.length - 1; d >= 0; d--) {
        const i = rem % outShape[d];
        rem = Math.floor(rem / outShape[d]);
        s += i * inStrides[perm[d]];
      }
      out[o] = src[s];
    }
    return out;
  }

  it('transposeArray equals a naive transpose for every 4-D permutation', () => {
    const shape = [3, 5, 2, 7];
    const src = Float32Array.from({ length: 210 }, (_, i) => i);
    const perms: number[][] = [];
    const permute = (rest: number[], acc: number[]) =>
      rest.length === 0 ? perms.push(acc) : rest.forEach((r) => permute(rest.filter((x) => x !== r), [...acc, r]));
    permute([0, 1, 2, 3], []);
    for (const perm of perms) {
      const dst = new Float32Array(210);
      transposeArray(src, shape, perm, dst);
      expect(Array.from(dst)).toEqual(Array.from(naiveTranspose(src, shape, perm)));
    }
  });

  it('transposeArray tiles large 2-D matrices correctly', () => {
    const [r, c] = [70, 45];
    const src = Float32Array.from({ length: r * c }, (_, i) => i);
    const dst = new Float32Array(r * c);
    transposeArray(src, [r, c], [1, 0], dst);
    expect(Array.from(dst)).toEqual(Array.from(naiveTranspose(src, [r, c], [1, 0])));
  });

  it('tanhInto is within 3 ulp of the correctly rounded float32 tanh', () => {
    const n = 200001;
    const x = Float32Array.from({ length: n }, (_, i) => (i - 100000) * 1.3e-4 * (1 + (i % 7) * 1e-3));
    const y = new Float32Array(n);
    tanhInto(x, y, n);
    const f = new Float32Array(2);
    const bits = new Int32Array(f.buffer);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      f[0] = y[i];
      f[1] = Math.tanh(x[i]);
      worst = Math.max(worst, Math.abs(bits[0] - bits[1]));
    }
    expect(worst).toBeLessThanOrEqual(3);
  });

  it('copySlice writes at an offset', () => {
    const src = Float32Array.from({ length: 24 }, (_, i) => i); // [2, 3, 4]
    const dst = new Float32Array(10).fill(-1);
    copySlice(src, [2, 3, 4], [1, 1, 1], [1, 2, 2], dst, 3);
    expect(Array.from(dst)).toEqual([-1, -1, -1, 17, 18, 21, 22, -1, -1, -1]);
  });
});
