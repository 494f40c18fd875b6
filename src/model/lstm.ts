/**
 * Hand-written stacked LSTM (and simple RNN) for training with
 * tf.variableGrads / optimizers. Each step is a single matMul of
 * concat([x_t, h]) with one kernel holding all four gates (bias fused), with
 * no per-step layer machinery (DESIGN.md section 6: it beats tf.layers.lstm).
 *
 * Per layer:  kernel W [inputDim + units, 4*units], bias b [4*units].
 *   z = [x_t, h] · W + b, split along the last axis into gates in the order
 *   i (input), f (forget), g (candidate), o (output) - Keras's order;
 *   i, f, o = sigmoid; g = act(z_g);  c = f*c + i*g;  h = o * act(c)
 * with act = `activation` (tanh by default). The forget-gate bias starts at 1.
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
import { registerTfjsGradients } from './kernels/gradients';

export type CellType = 'lstm' | 'rnn';
export type ActivationName = 'tanh' | 'sigmoid' | 'relu' | 'leakyRelu' | 'linear';
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

/** mulberry32: tiny, fast, good enough for weight init; same numbers on every backend. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
  const random = rng(seed);
  const gates = GATES[cell];
  const trainable = options.trainable ?? true;
  const out: RecurrentLayerParams[] = [];
  for (let l = 0; l < layers; l++) {
    const fanIn = (l === 0 ? inputDim : units) + units;
    const fanOut = gates * units;
    // Glorot-uniform over the whole stacked kernel: U(-lim, lim), lim = sqrt(6 / (fanIn + fanOut)).
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    const w = new Float32Array(fanIn * fanOut);
    for (let i = 0; i < w.length; i++) w[i] = (2 * random() - 1) * limit;
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
      return tf.leakyRelu(x, (spec as { alpha?: number }).alpha ?? 0.2);
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

/** Runs one layer over the step inputs; returns the per-step outputs (after outputActivation). */
function runLayer(
  params: RecurrentParams,
  layer: RecurrentLayerParams,
  xs: tf.Tensor2D[],
  masks: tf.Tensor2D[] | null,
  options: RecurrentOptions,
): tf.Tensor2D[] {
  const batch = xs[0].shape[0];
  const step = params.cell === 'lstm' ? lstmStep(params.units, options.activation) : rnnStep(options.activation);
  let h: tf.Tensor2D = tf.zeros([batch, params.units]);
  let c: tf.Tensor2D = params.cell === 'lstm' ? tf.zeros([batch, params.units]) : h;
  const outputs: tf.Tensor2D[] = [];
  xs.forEach((x, t) => {
    // One product for all gates; the bias is fused into the matMul.
    const z = tf.fused.matMul({ a: tf.concat([x, h], 1), b: layer.kernel, bias: layer.bias }) as tf.Tensor2D;
    const next = step(z, c);
    const m = masks ? masks[t] : null;
    h = keepWhereMasked(next.h, h, m);
    c = params.cell === 'lstm' ? keepWhereMasked(next.c, c, m) : h;
    outputs.push(activate(h, options.outputActivation, 'linear'));
  });
  return outputs;
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
    const masks = options.mask ? (tf.split(tf.cast(options.mask, 'float32'), time, 1) as tf.Tensor2D[]) : null;
    let xs = tf.unstack(x, 1) as tf.Tensor2D[];
    for (const layer of params.layers) xs = runLayer(params, layer, xs, masks, options);
    const out: RecurrentOutput = { last: xs[time - 1] };
    if (options.returnSequences) out.sequence = tf.stack(xs, 1) as tf.Tensor3D;
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
