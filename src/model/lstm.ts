/**
 * Hand-written stacked LSTM (and simple RNN) for training with
 * tf.variableGrads / optimizers, with no per-step layer machinery
 * (docs/kernels.md, "Why not tf.layers.lstm").
 *
 * Per layer:  kernel W [inputDim + units, 4*units] (rows: x first, then h), bias b [4*units].
 *   z_t = x_t · W_x + h_{t-1} · W_h + b, split along the last axis into gates in the order
 *   i (input), f (forget), g (candidate), o (output) - Keras's order;
 *   i, f, o = sigmoid; g = act(z_g);  c = f*c + i*g;  h = o * act(c)
 * with act = `activation` (tanh by default). The forget-gate bias starts at 1.
 *
 * How it runs: the input part x_t · W_x + b of every step is one matMul over
 * [batch * time, inputDim] before the loop; the loop does one matMul
 * h_{t-1} · W_h per step for all four gates (none at t = 0, where h = 0).
 * On wasm with the fast kernels, an LSTM layer with the tanh cell and a
 * linear / ReLU / LeakyReLU output is one tf.customGrad op: each step is that
 * matMul plus one fused cell kernel (kernels/lstm_cell.ts), and its gradient
 * is hand-written backpropagation through time with one fused kernel and one
 * matMul per step, W_h's gradient in one matMul over all steps.
 * Elsewhere (cpu, node, other activations, the RNN) it runs the same
 * equations as plain tfjs ops, the reference the tests compare with.
 * RUBATO_LSTM_FUSED=0 turns the fused path off.
 *
 * Masking: `mask` [batch, time] holds 1 for real steps and 0 for padding;
 * a padded step keeps the previous (h, c). Users with fewer than w plays are
 * left-padded, so their state stays at zero until the first real play and
 * the last h is the state after their last play.
 *
 * All functions are pure over tensors + a params object and run inside
 * tf.tidy, so only the returned tensors survive.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedLstmAvailable, LSTM_CELL, LSTM_CELL_GRAD, LSTM_RECURRENT_GRAD, lstmCellImpl } from './kernels';
import { registerTfjsGradients } from './kernels/gradients';
import { LEAKY_RELU_ALPHA } from './layers';
import { glorotUniform, Mulberry32 } from './random';

export type CellType = 'lstm' | 'rnn';
export type ActivationName = 'tanh' | 'sigmoid' | 'relu' | 'leakyRelu' | 'linear';
/** alpha: LeakyReLU's slope for negative inputs, LEAKY_RELU_ALPHA unless given. */
export type Activation = ActivationName | { name: ActivationName; alpha?: number };

export interface RecurrentLayerParams {
  /** [inputDim + units, gates*units] with gates = 4 (lstm) or 1 (rnn); rows: x first, then h. */
  kernel: tf.Variable<tf.Rank.R2>;
  bias: tf.Variable<tf.Rank.R1>;
}

export interface RecurrentParams {
  cell: CellType;
  inputDim: number;
  units: number;
  layers: RecurrentLayerParams[];
}

export interface CreateParamsOptions {
  /** Variable name prefix (names must be unique per process); default: auto-generated names. */
  name?: string;
  trainable?: boolean;
}

export interface RecurrentOptions {
  /** [batch, time], 1 = real step, 0 = padding (state carried over). */
  mask?: tf.Tensor2D;
  /** Also return every step's output of the last layer, [batch, time, units]. */
  returnSequences?: boolean;
  /** Cell activation: candidate g and the c -> h squashing (rnn: the cell output). Default tanh. */
  activation?: Activation;
  /**
   * Applied to each layer's output h before it feeds the next layer and to
   * the returned outputs (e.g. LeakyReLU as in the paper's encoder); the
   * recurrent state itself is not affected. Default linear.
   */
  outputActivation?: Activation;
}

export interface RecurrentOutput {
  /** Output after the last step, [batch, units]. */
  last: tf.Tensor2D;
  /** Present when returnSequences: [batch, time, units]. */
  sequence?: tf.Tensor3D;
}

const GATES: Record<CellType, number> = { lstm: 4, rnn: 1 };

function createParams(
  cell: CellType,
  inputDim: number,
  units: number,
  layers: number,
  seed: number,
  options: CreateParamsOptions,
): RecurrentParams {
  if (!(inputDim > 0 && units > 0 && layers > 0)) {
    throw new Error(`create ${cell} params: inputDim, units and layers must be positive (got ${inputDim}, ${units}, ${layers})`);
  }
  registerTfjsGradients(); // params are for training; tfjs-core's CJS build has no gradients
  // One stream for all layers, from mulberry32 rather than sfc32: see Mulberry32 in src/random.ts.
  const random = new Mulberry32(seed);
  const gates = GATES[cell];
  const trainable = options.trainable ?? true;
  const out: RecurrentLayerParams[] = [];
  for (let l = 0; l < layers; l++) {
    const fanIn = (l === 0 ? inputDim : units) + units;
    const fanOut = gates * units;
    // Glorot-uniform over the whole stacked kernel [x; h] x gates.
    const w = glorotUniform(fanIn, fanOut, random);
    const b = new Float32Array(fanOut);
    if (cell === 'lstm') b.fill(1, units, 2 * units); // forget gate starts open
    const name = (part: string) => (options.name ? `${options.name}/layer${l}/${part}` : undefined);
    out.push({
      kernel: tf.variable(tf.tensor2d(w, [fanIn, fanOut]), trainable, name('kernel')),
      bias: tf.variable(tf.tensor1d(b), trainable, name('bias')),
    });
  }
  return { cell, inputDim, units, layers: out };
}

/** Parameters of a stacked LSTM with Glorot-uniform kernels from `seed`. */
export function createLstmParams(
  inputDim: number,
  units: number,
  layers: number,
  seed: number,
  options: CreateParamsOptions = {},
): RecurrentParams {
  return createParams('lstm', inputDim, units, layers, seed, options);
}

/** Parameters of a stacked simple (Elman) RNN, the Vanilla-RNN baseline. */
export function createRnnParams(
  inputDim: number,
  units: number,
  layers: number,
  seed: number,
  options: CreateParamsOptions = {},
): RecurrentParams {
  return createParams('rnn', inputDim, units, layers, seed, options);
}

export function recurrentVariables(params: RecurrentParams): tf.Variable[] {
  return params.layers.flatMap((l) => [l.kernel, l.bias]);
}

export function disposeRecurrentParams(params: RecurrentParams): void {
  for (const v of recurrentVariables(params)) v.dispose();
}

export function activate(x: tf.Tensor2D, activation: Activation | undefined, fallback: ActivationName): tf.Tensor2D {
  const spec = typeof activation === 'string' ? { name: activation } : (activation ?? { name: fallback });
  switch (spec.name) {
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'relu':
      return tf.relu(x);
    case 'leakyRelu':
      return tf.leakyRelu(x, (spec as { alpha?: number }).alpha ?? LEAKY_RELU_ALPHA);
    case 'linear':
      return x;
    default:
      throw new Error(`Unknown activation '${(spec as { name: string }).name}'`);
  }
}

/** prev + m * (next - prev): next where m = 1, prev where m = 0. */
function keepWhereMasked(next: tf.Tensor2D, prev: tf.Tensor2D, m: tf.Tensor2D | null): tf.Tensor2D {
  return m == null ? next : tf.add(prev, tf.mul(m, tf.sub(next, prev)));
}

type Step = (z: tf.Tensor2D, c: tf.Tensor2D) => { h: tf.Tensor2D; c: tf.Tensor2D };

function lstmStep(units: number, activation: Activation | undefined): Step {
  return (z, c) => {
    const [zi, zf, zg, zo] = tf.split(z, [units, units, units, units], 1) as tf.Tensor2D[];
    const cNext: tf.Tensor2D = tf.add(tf.mul(tf.sigmoid(zf), c), tf.mul(tf.sigmoid(zi), activate(zg, activation, 'tanh')));
    return { h: tf.mul(tf.sigmoid(zo), activate(cNext, activation, 'tanh')), c: cNext };
  };
}

function rnnStep(activation: Activation | undefined): Step {
  return (z, c) => ({ h: activate(z, activation, 'tanh'), c });
}

/** The input projection x · W_x + b of every step at once: [batch, time, gates*units]. */
function inputProjection(layer: RecurrentLayerParams, x: tf.Tensor3D): tf.Tensor3D {
  const [batch, time, dim] = x.shape;
  const width = layer.kernel.shape[1];
  const wx = tf.slice(layer.kernel, [0, 0], [dim, width]);
  const proj = tf.fused.matMul({ a: tf.reshape(x, [batch * time, dim]), b: wx, bias: layer.bias });
  return tf.reshape(proj, [batch, time, width]);
}

/** W_h: the rows of the kernel that multiply h, [units, gates*units]. */
function recurrentKernel(layer: RecurrentLayerParams, inputDim: number): tf.Tensor2D {
  const [rows, width] = layer.kernel.shape;
  return tf.slice(layer.kernel, [inputDim, 0], [rows - inputDim, width]);
}

/** Runs one layer with plain tfjs ops; returns the per-step outputs (after outputActivation). */
function runLayer(
  params: RecurrentParams,
  layer: RecurrentLayerParams,
  x: tf.Tensor3D,
  masks: tf.Tensor2D[] | null,
  options: RecurrentOptions,
): tf.Tensor2D[] {
  const [batch, time, dim] = x.shape;
  const step = params.cell === 'lstm' ? lstmStep(params.units, options.activation) : rnnStep(options.activation);
  const proj = inputProjection(layer, x);
  // (tfjs's Unpack gradient fails for a single output, so one step is a reshape.)
  const xz = time === 1 ? [tf.reshape(proj, [batch, proj.shape[2]]) as tf.Tensor2D] : (tf.unstack(proj, 1) as tf.Tensor2D[]);
  const wh = recurrentKernel(layer, dim);
  let h: tf.Tensor2D = tf.zeros([batch, params.units]);
  let c: tf.Tensor2D = params.cell === 'lstm' ? tf.zeros([batch, params.units]) : h;
  const outputs: tf.Tensor2D[] = [];
  for (let t = 0; t < time; t++) {
    // One product for all gates; none at t = 0, where h = 0.
    const z = t === 0 ? xz[0] : (tf.add(xz[t], tf.matMul(h, wh)) as tf.Tensor2D);
    const next = step(z, c);
    const m = masks ? masks[t] : null;
    h = keepWhereMasked(next.h, h, m);
    c = params.cell === 'lstm' ? keepWhereMasked(next.c, c, m) : h;
    outputs.push(activate(h, options.outputActivation, 'linear'));
  }
  return outputs;
}

// ------------------------------------------------------------------ fused (wasm)

/** Slope for negative inputs of an output activation the fused kernels handle (1 linear, 0 relu); null otherwise. */
function fusedOutputSlope(activation: Activation | undefined): number | null {
  const spec = typeof activation === 'string' ? { name: activation } : (activation ?? { name: 'linear' as const });
  switch (spec.name) {
    case 'linear':
      return 1;
    case 'relu':
      return 0;
    case 'leakyRelu':
      return (spec as { alpha?: number }).alpha ?? LEAKY_RELU_ALPHA;
    default:
      return null;
  }
}

function useFused(params: RecurrentParams, options: RecurrentOptions): boolean {
  const cellAct = typeof options.activation === 'string' ? options.activation : (options.activation?.name ?? 'tanh');
  return (
    params.cell === 'lstm' &&
    cellAct === 'tanh' &&
    fusedOutputSlope(options.outputActivation) != null &&
    process.env.RUBATO_LSTM_FUSED !== '0' &&
    fusedLstmAvailable()
  );
}

function runKernel(name: string, inputs: Record<string, tf.Tensor | undefined>, attrs: Record<string, number | boolean>): tf.Tensor[] {
  const present: tf.NamedTensorMap = {};
  for (const [k, v] of Object.entries(inputs)) if (v != null) present[k] = v;
  return tf.engine().runKernel(name, present, attrs) as unknown as tf.Tensor[];
}

/**
 * One LSTM layer as a single differentiable op: forward with one matMul and
 * one fused cell kernel per step, backward through time by hand. Returns the
 * activated outputs, [batch, time, units] (sequence) or [batch, units] (last).
 */
function fusedLayer(
  layer: RecurrentLayerParams,
  x: tf.Tensor3D,
  mask: tf.Tensor2D | null,
  units: number,
  options: RecurrentOptions,
  sequence: boolean,
): tf.Tensor {
  const [, time, dim] = x.shape;
  const alpha = fusedOutputSlope(options.outputActivation)!;
  const act = <T extends tf.Tensor>(h: T): T => (alpha === 1 ? h : activate(h as unknown as tf.Tensor2D, options.outputActivation, 'linear') as unknown as T);
  const xproj = inputProjection(layer, x);
  const wh = recurrentKernel(layer, dim);
  const cell = (t: number, training: boolean, m: tf.Tensor2D | null, xp: tf.Tensor, w: tf.Tensor, h?: tf.Tensor, c?: tf.Tensor) => {
    const hw = h ? tf.matMul(h, w) : undefined;
    const out = runKernel(LSTM_CELL, { xproj: xp, hw, c, h, mask: m ?? undefined }, { t, units, training });
    hw?.dispose();
    return out;
  };
  const output = (hs: tf.Tensor[]) => act(sequence ? tf.stack(hs, 1) : hs[hs.length - 1]);

  if (!tf.engine().isTapeOn()) {
    // Inference: no cache, no gradient bookkeeping.
    let h: tf.Tensor | undefined;
    let c: tf.Tensor | undefined;
    const hs: tf.Tensor[] = [];
    for (let t = 0; t < time; t++) {
      [h, c] = cell(t, false, mask, xproj, wh, h, c);
      hs.push(h);
    }
    return output(hs);
  }

  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xp, w, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const hs: tf.Tensor[] = [];
    const cs: tf.Tensor[] = [];
    const caches: tf.Tensor[] = [];
    for (let t = 0; t < time; t++) {
      const [h, c, cache] = cell(t, true, mask, xp, w, hs[t - 1], cs[t - 1]);
      hs.push(h);
      cs.push(c);
      caches.push(cache);
    }
    // Inputs of the op can be disposed before the backward pass runs; keep what it needs.
    save([w, ...(mask ? [mask] : []), ...hs, ...cs, ...caches]);
    return {
      value: output(hs),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          let k = 0;
          const wSaved = saved[k++];
          const m = mask ? saved[k++] : undefined;
          const hS = saved.slice(k, k + time);
          const cS = saved.slice(k + time, k + 2 * time);
          const cacheS = saved.slice(k + 2 * time, k + 3 * time);
          const whT = tf.transpose(wSaved);
          const dzs: tf.Tensor[] = new Array(time);
          let carry: tf.Tensor | undefined;
          let dc: tf.Tensor | undefined;
          let dhw: tf.Tensor | undefined;
          for (let t = time - 1; t >= 0; t--) {
            const dyT = sequence || t === time - 1 ? dy : undefined;
            const out = runKernel(
              LSTM_CELL_GRAD,
              { cache: cacheS[t], c: t > 0 ? cS[t - 1] : undefined, h: alpha !== 1 ? hS[t] : undefined, dy: dyT, carry, dhw, dc, mask: m },
              { t, units, alpha, first: t === 0 },
            );
            dzs[t] = out[0];
            if (t > 0) {
              [, carry, dc] = out;
              dhw = tf.matMul(out[0], whT);
            }
          }
          const dxp = tf.stack(dzs, 1);
          // dW_h = sum over t >= 1 of h_{t-1}ᵀ · dz_t: one kernel accumulating the products (SIMD),
          // else one product over the concatenated steps.
          let dw: tf.Tensor;
          if (time === 1) dw = tf.zerosLike(wSaved);
          else if (lstmCellImpl(tf.backend(), units) === 'simd') {
            const inputs: Record<string, tf.Tensor> = {};
            for (let t = 1; t < time; t++) {
              inputs[`h${t - 1}`] = hS[t - 1];
              inputs[`dz${t - 1}`] = dzs[t];
            }
            [dw] = runKernel(LSTM_RECURRENT_GRAD, inputs, { steps: time - 1 });
          } else dw = tf.matMul(tf.concat(hS.slice(0, time - 1), 0), tf.concat(dzs.slice(1), 0), true, false);
          return [dxp, dw];
        }),
    };
  });
  return op(xproj, wh);
}

/**
 * Runs the stacked recurrent network over x [batch, time, inputDim].
 * Dispatches on params.cell ('lstm' or 'rnn').
 */
export function recurrentForward(params: RecurrentParams, x: tf.Tensor3D, options: RecurrentOptions = {}): RecurrentOutput {
  const [batch, time, dim] = x.shape;
  if (dim !== params.inputDim) throw new Error(`${params.cell}: input has ${dim} features, params expect ${params.inputDim}`);
  if (time < 1) throw new Error(`${params.cell}: need at least one time step`);
  if (options.mask && (options.mask.shape[0] !== batch || options.mask.shape[1] !== time)) {
    throw new Error(`${params.cell}: mask shape [${options.mask.shape}] must be [${batch}, ${time}]`);
  }
  return tf.tidy(() => {
    const mask = options.mask ? (tf.cast(options.mask, 'float32') as tf.Tensor2D) : null;
    if (useFused(params, options)) {
      let seq: tf.Tensor3D = x;
      let last!: tf.Tensor2D;
      params.layers.forEach((layer, l) => {
        const final = l === params.layers.length - 1;
        const out = fusedLayer(layer, seq, mask, params.units, options, !final || Boolean(options.returnSequences));
        if (!final) seq = out as tf.Tensor3D;
        else if (out.rank === 3) {
          seq = out as tf.Tensor3D;
          last = tf.squeeze(tf.slice(seq, [0, time - 1, 0], [batch, 1, params.units]), [1]);
        } else last = out as tf.Tensor2D;
      });
      const out: RecurrentOutput = { last };
      if (options.returnSequences) out.sequence = seq;
      return out as unknown as tf.TensorContainer;
    }
    const masks = mask ? (tf.split(mask, time, 1) as tf.Tensor2D[]) : null;
    let xs: tf.Tensor3D = x;
    let outputs: tf.Tensor2D[] = [];
    params.layers.forEach((layer, l) => {
      outputs = runLayer(params, layer, xs, masks, options);
      if (l < params.layers.length - 1) xs = tf.stack(outputs, 1) as tf.Tensor3D;
    });
    const out: RecurrentOutput = { last: outputs[time - 1] };
    if (options.returnSequences) out.sequence = tf.stack(outputs, 1) as tf.Tensor3D;
    return out as unknown as tf.TensorContainer;
  }) as unknown as RecurrentOutput;
}

/** Stacked LSTM forward; see recurrentForward. */
export function lstm(params: RecurrentParams, x: tf.Tensor3D, options: RecurrentOptions = {}): RecurrentOutput {
  if (params.cell !== 'lstm') throw new Error(`lstm() got ${params.cell} params`);
  return recurrentForward(params, x, options);
}

/** Stacked simple RNN forward (Vanilla-RNN baseline); see recurrentForward. */
export function rnn(params: RecurrentParams, x: tf.Tensor3D, options: RecurrentOptions = {}): RecurrentOutput {
  if (params.cell !== 'rnn') throw new Error(`rnn() got ${params.cell} params`);
  return recurrentForward(params, x, options);
}
