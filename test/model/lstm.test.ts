/**
 * The hand-written LSTM / RNN: equations against a plain-JS reference,
 * masking, parameter init, no leaks, and gradients on wasm (with the fast
 * kernels) equal to the cpu backend's.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/model/backend';
import {
  createLstmParams,
  createRnnParams,
  disposeRecurrentParams,
  lstm,
  recurrentVariables,
  rnn,
  type RecurrentParams,
} from '../../src/model/lstm';

function seeded(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** Plain-JS LSTM/RNN over x [batch][time][dim] with the documented equations. */
function reference(params: RecurrentParams, x: number[][][], mask?: number[][]): number[][] {
  let inputs = x;
  const H = params.units;
  for (const layer of params.layers) {
    const W = layer.kernel.arraySync();
    const b = layer.bias.arraySync();
    inputs = inputs.map((seq, n) => {
      let h = new Array<number>(H).fill(0);
      let c = new Array<number>(H).fill(0);
      return seq.map((xt, t) => {
        const xh = [...xt, ...h];
        const z = W[0].map((_, j) => b[j] + xh.reduce((acc, v, k) => acc + v * W[k][j], 0));
        let hNext: number[];
        let cNext = c;
        if (params.cell === 'lstm') {
          cNext = c.map((cj, j) => sigmoid(z[H + j]) * cj + sigmoid(z[j]) * Math.tanh(z[2 * H + j]));
          hNext = cNext.map((cj, j) => sigmoid(z[3 * H + j]) * Math.tanh(cj));
        } else {
          hNext = z.map(Math.tanh);
        }
        if (!mask || mask[n][t] === 1) {
          h = hNext;
          c = cNext;
        }
        return h;
      });
    });
  }
  return inputs.map((seq) => seq[seq.length - 1]);
}

const savedEnv = process.env.RUBATO_TF_BACKEND;
beforeAll(async () => {
  delete process.env.RUBATO_TF_BACKEND;
  await initBackend('wasm', { logger: () => undefined });
});
afterAll(() => {
  if (savedEnv != null) process.env.RUBATO_TF_BACKEND = savedEnv;
});

describe('params', () => {
  it('have the documented shapes, forget bias 1 and Glorot-bounded kernels', () => {
    const p = createLstmParams(5, 3, 2, 42);
    expect(p.layers.map((l) => l.kernel.shape)).toEqual([
      [8, 12],
      [6, 12],
    ]);
    expect(Array.from(p.layers[0].bias.dataSync())).toEqual([0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    const limit = Math.sqrt(6 / (8 + 12));
    const w = p.layers[0].kernel.dataSync();
    expect(Math.max(...Array.from(w, Math.abs))).toBeLessThanOrEqual(limit);
    expect(recurrentVariables(p)).toHaveLength(4);
    disposeRecurrentParams(p);
  });

  it('are reproducible from the seed', () => {
    const a = createLstmParams(4, 3, 1, 7);
    const b = createLstmParams(4, 3, 1, 7);
    const c = createLstmParams(4, 3, 1, 8);
    expect(Array.from(a.layers[0].kernel.dataSync())).toEqual(Array.from(b.layers[0].kernel.dataSync()));
    expect(Array.from(a.layers[0].kernel.dataSync())).not.toEqual(Array.from(c.layers[0].kernel.dataSync()));
    [a, b, c].forEach(disposeRecurrentParams);
  });

  it('are the kernels they always were (mulberry32, one stream over the layers), on which published figures rest', () => {
    const hash = createHash('sha256');
    const params = [createLstmParams(5, 3, 2, 42), createRnnParams(4, 6, 2, 0x9e3779b9)];
    for (const p of params) for (const v of recurrentVariables(p)) hash.update(new Uint8Array((v.dataSync() as Float32Array).slice().buffer));
    // Taken before the generator moved to src/random.ts; a deliberate change of the init updates it and says so.
    expect(hash.digest('hex').slice(0, 16)).toBe('452bfc5cf77a2372');
    params.forEach(disposeRecurrentParams);
  });

  it('rnn params have one gate and zero bias', () => {
    const p = createRnnParams(4, 3, 1, 1);
    expect(p.layers[0].kernel.shape).toEqual([7, 3]);
    expect(Array.from(p.layers[0].bias.dataSync())).toEqual([0, 0, 0]);
    disposeRecurrentParams(p);
  });
});

describe('forward', () => {
  const [B, T, D, H] = [3, 4, 5, 6];
  const xData = seeded(B * T * D, 3);
  const xArr = () => tf.tensor3d(xData, [B, T, D]).arraySync();

  it('matches a plain-JS stacked LSTM (gate order i, f, g, o)', () => {
    const p = createLstmParams(D, H, 2, 11);
    const x = tf.tensor3d(xData, [B, T, D]);
    const out = lstm(p, x, { returnSequences: true });
    expect(out.last.shape).toEqual([B, H]);
    expect(out.sequence!.shape).toEqual([B, T, H]);
    expect(maxAbsDiff(out.last.dataSync(), reference(p, xArr()).flat())).toBeLessThan(1e-5);
    // The sequence's last step is the last output.
    expect(maxAbsDiff(tf.tidy(() => tf.squeeze(tf.slice(out.sequence!, [0, T - 1, 0], [B, 1, H]), [1])).dataSync(), out.last.dataSync())).toBe(0);
    tf.dispose([x, out.last, out.sequence!]);
    disposeRecurrentParams(p);
  });

  it('matches a plain-JS RNN', () => {
    const p = createRnnParams(D, H, 2, 12);
    const x = tf.tensor3d(xData, [B, T, D]);
    const out = rnn(p, x);
    expect(maxAbsDiff(out.last.dataSync(), reference(p, xArr()).flat())).toBeLessThan(1e-5);
    tf.dispose([x, out.last]);
    disposeRecurrentParams(p);
  });

  it('left padding: masked steps keep the state, so padded = unpadded', () => {
    const p = createLstmParams(D, H, 2, 13);
    const x = tf.tensor3d(xData, [B, T, D]);
    // user 0 has 2 real plays, user 1 has all 4, user 2 has 1
    const mask = tf.tensor2d([0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1], [B, T]);
    const out = lstm(p, x, { mask, returnSequences: true });
    const short = tf.slice(x, [0, 2, 0], [1, 2, D]);
    const alone = lstm(p, short);
    const row0 = tf.slice(out.last, [0, 0], [1, H]);
    expect(maxAbsDiff(row0.dataSync(), alone.last.dataSync())).toBeLessThan(1e-6);
    // Before the first real play the state is still zero.
    const padded = tf.slice(out.sequence!, [0, 0, 0], [1, 2, H]);
    expect(Math.max(...Array.from(padded.dataSync(), Math.abs))).toBe(0);
    const m = mask.arraySync();
    expect(maxAbsDiff(out.last.dataSync(), reference(p, xArr(), m).flat())).toBeLessThan(1e-5);
    tf.dispose([x, mask, out.last, out.sequence!, short, alone.last, row0, padded]);
    disposeRecurrentParams(p);
  });

  it('a masked step in the middle carries h over unchanged', () => {
    const p = createLstmParams(D, H, 1, 14);
    const x = tf.tensor3d(xData, [B, T, D]);
    const mask = tf.tensor2d([1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1], [B, T]);
    const seq = lstm(p, x, { mask, returnSequences: true }).sequence!;
    const s = seq.arraySync();
    expect(s[0][2]).toEqual(s[0][1]);
    expect(s[1][1]).toEqual(s[1][0]);
    expect(s[2][2]).not.toEqual(s[2][1]);
    tf.dispose([x, mask, seq]);
    disposeRecurrentParams(p);
  });

  it('outputActivation applies to the layer outputs (LeakyReLU)', () => {
    const p = createLstmParams(D, H, 1, 15);
    const x = tf.tensor3d(xData, [B, T, D]);
    const plain = lstm(p, x).last;
    const leaky = lstm(p, x, { outputActivation: { name: 'leakyRelu', alpha: 0.1 } }).last;
    const expected = tf.leakyRelu(plain, 0.1);
    expect(maxAbsDiff(leaky.dataSync(), expected.dataSync())).toBe(0);
    tf.dispose([x, plain, leaky, expected]);
    disposeRecurrentParams(p);
  });

  it('rejects wrong input and mask shapes', () => {
    const p = createLstmParams(D, H, 1, 16);
    const x = tf.zeros([B, T, D + 1]) as tf.Tensor3D;
    expect(() => lstm(p, x)).toThrow(/features/);
    const x2 = tf.zeros([B, T, D]) as tf.Tensor3D;
    const badMask = tf.ones([B, T + 1]) as tf.Tensor2D;
    expect(() => lstm(p, x2, { mask: badMask })).toThrow(/mask shape/);
    expect(() => rnn(p, x2)).toThrow(/lstm params/);
    tf.dispose([x, x2, badMask]);
    disposeRecurrentParams(p);
  });
});

/** A tiny LSTM + dense regression model and its loss. */
function model(seed: number, D: number, H: number, O: number) {
  const params = createLstmParams(D, H, 2, seed);
  const dense = tf.variable(tf.tensor2d(seeded(H * O, seed + 1), [H, O]));
  const bias = tf.variable(tf.tensor1d(seeded(O, seed + 2)));
  const loss = (x: tf.Tensor3D, mask: tf.Tensor2D, y: tf.Tensor2D) => {
    const h = lstm(params, x, { mask, outputActivation: 'leakyRelu' }).last;
    const pred = tf.add(tf.matMul(h, dense), bias);
    return tf.mean(tf.square(tf.sub(pred, y))) as tf.Scalar;
  };
  const vars = [...recurrentVariables(params), dense, bias];
  return { loss, vars, dispose: () => tf.dispose(vars) };
}

describe('training', () => {
  const [B, T, D, H, O] = [6, 5, 7, 8, 3];
  const inputs = () => ({
    x: tf.tensor3d(seeded(B * T * D, 21), [B, T, D]),
    mask: tf.tensor2d(Array.from({ length: B * T }, (_, i) => (i % T >= (i / T) % 3 ? 1 : 0)), [B, T]),
    y: tf.tensor2d(seeded(B * O, 22), [B, O]),
  });

  async function gradsOn(backend: 'cpu' | 'wasm'): Promise<{ loss: number; grads: Float32Array[] }> {
    await initBackend(backend, { logger: () => undefined });
    expect(tf.getBackend()).toBe(backend);
    const m = model(31, D, H, O);
    const { x, mask, y } = inputs();
    const { value, grads } = tf.variableGrads(() => m.loss(x, mask, y), m.vars);
    const out = { loss: value.dataSync()[0], grads: m.vars.map((v) => grads[v.name].dataSync() as Float32Array) };
    tf.dispose([value, ...Object.values(grads), x, mask, y]);
    m.dispose();
    return out;
  }

  it('gradients on wasm with the fast kernels equal the cpu backend within 1e-5', async () => {
    const cpu = await gradsOn('cpu');
    const wasm = await gradsOn('wasm');
    expect(Math.abs(cpu.loss - wasm.loss)).toBeLessThan(1e-6);
    // Measured: ~1e-9 to 2e-8.
    wasm.grads.forEach((g, i) => expect(maxAbsDiff(g, cpu.grads[i])).toBeLessThan(1e-5));
  });

  it('forward + backward + optimizer step leaks no tensors', async () => {
    await initBackend('wasm', { logger: () => undefined });
    const m = model(41, D, H, O);
    const { x, mask, y } = inputs();
    const opt = tf.train.adam(0.01);
    const step = () => tf.dispose(opt.minimize(() => m.loss(x, mask, y), true, m.vars) ?? []);
    step(); // the optimizer creates its slots on the first step
    const before = tf.memory().numTensors;
    const losses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const l = opt.minimize(() => m.loss(x, mask, y), true, m.vars)!;
      losses.push(l.dataSync()[0]);
      l.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(losses[4]).toBeLessThan(losses[0]);
    opt.dispose();
    tf.dispose([x, mask, y]);
    m.dispose();
  });
});
