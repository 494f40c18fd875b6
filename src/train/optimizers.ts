/**
 * Optimizers with explicit, serialisable state, applied in plain JS.
 *
 * tfjs's own optimizers keep part of their state in hidden variables and
 * rebuild beta^t with pow() on restore, which breaks bit-exact resumption;
 * and each update costs ~12 small kernels per parameter tensor, which on
 * the wasm backend is mostly per-kernel overhead. Here the gradients are
 * read once, the update runs in a tight loop over Float32Arrays (double
 * precision arithmetic, float32 storage, the same numbers on every
 * backend), and each parameter is written back in one upload. The slots
 * (Adam's m and v, RMSProp's s) are Float32Arrays and the step counter is a
 * number, so a checkpoint copies them as they are.
 *
 *   adam     m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *            theta -= lr * m^ / (sqrt(v^) + eps),  m^ = m / (1 - b1^t), v^ = v / (1 - b2^t)
 *            (b1 0.9, b2 0.999, eps 1e-8: PyTorch's defaults)
 *   rmsprop  s = rho s + (1 - rho) g^2;  theta -= lr * g / (sqrt(s) + eps)   (rho 0.9, eps 1e-7)
 *   sgd      theta -= lr * g
 */
import * as tf from "@tensorflow/tfjs-core";

export type OptimizerKind = "adam" | "sgd" | "rmsprop";

export interface NamedVariable {
  key: string;
  variable: tf.Variable;
}

export interface OptimizerState {
  kind: OptimizerKind;
  learningRate: number;
  /** Updates applied so far. */
  step: number;
  /** Slot values by "<slot>:<variable key>". */
  slots: Map<string, { shape: number[]; values: Float32Array }>;
}

const ADAM = { b1: 0.9, b2: 0.999, eps: 1e-8 };
const RMSPROP = { rho: 0.9, eps: 1e-7 };

export class Optimizer {
  /** Updates applied so far (Adam's t). */
  step = 0;
  /** slot name -> one array per parameter, in the order of `params`. */
  private readonly slots = new Map<string, Float32Array[]>();

  constructor(
    readonly kind: OptimizerKind,
    readonly learningRate: number,
    private readonly params: readonly NamedVariable[],
  ) {
    const names = kind === "adam" ? ["m", "v"] : kind === "rmsprop" ? ["s"] : [];
    for (const slot of names)
      this.slots.set(
        slot,
        params.map((p) => new Float32Array(p.variable.size)),
      );
  }

  /** Applies one update; `grads[i]` (read out of the gradient tensors) belongs to `params[i]` and is only read. Returns the new values. */
  apply(grads: readonly Float32Array[]): Float32Array[] {
    if (grads.length !== this.params.length) throw new Error(`optimizer: ${grads.length} gradients for ${this.params.length} parameters`);
    this.step++;
    const lr = this.learningRate;
    const t = this.step;
    const m = this.slots.get("m");
    const v = this.slots.get("v");
    const s = this.slots.get("s");
    // Adam with the bias corrections folded into the step size: lr * m^ / (sqrt(v^) + eps) = lrT * m / (sqrt(v) + epsT).
    const c2 = Math.sqrt(1 - ADAM.b2 ** t);
    const lrT = (lr * c2) / (1 - ADAM.b1 ** t);
    const epsT = ADAM.eps * c2;
    const values = this.params.map((p, i) => {
      const g = grads[i];
      const w = p.variable.dataSync() as Float32Array;
      const next = new Float32Array(w.length);
      if (this.kind === "adam") {
        const mi = m![i];
        const vi = v![i];
        for (let j = 0; j < w.length; j++) {
          const gj = g[j];
          const mj = (mi[j] = ADAM.b1 * mi[j] + (1 - ADAM.b1) * gj);
          const vj = (vi[j] = ADAM.b2 * vi[j] + (1 - ADAM.b2) * gj * gj);
          next[j] = w[j] - (lrT * mj) / (Math.sqrt(vj) + epsT);
        }
      } else if (this.kind === "rmsprop") {
        const si = s![i];
        for (let j = 0; j < w.length; j++) {
          const gj = g[j];
          const sj = (si[j] = RMSPROP.rho * si[j] + (1 - RMSPROP.rho) * gj * gj);
          next[j] = w[j] - (lr * gj) / (Math.sqrt(sj) + RMSPROP.eps);
        }
      } else {
        for (let j = 0; j < w.length; j++) next[j] = w[j] - lr * g[j];
      }
      return next;
    });
    const updated = values.map((next, i) => tf.tensor(next, this.params[i].variable.shape));
    this.params.forEach((p, i) => p.variable.assign(updated[i]));
    tf.dispose(updated); // the variables hold the data now
    return values;
  }

  /** A copy of the state. */
  getState(): OptimizerState {
    const slots: OptimizerState["slots"] = new Map();
    for (const [slot, arrays] of this.slots) {
      arrays.forEach((a, i) => slots.set(`${slot}:${this.params[i].key}`, { shape: this.params[i].variable.shape, values: a.slice() }));
    }
    return { kind: this.kind, learningRate: this.learningRate, step: this.step, slots };
  }

  setState(state: OptimizerState): void {
    if (state.kind !== this.kind) throw new Error(`checkpoint optimizer is ${state.kind}, the spec asks for ${this.kind}`);
    for (const [slot, arrays] of this.slots) {
      arrays.forEach((a, i) => {
        const key = `${slot}:${this.params[i].key}`;
        const saved = state.slots.get(key);
        if (!saved || saved.values.length !== a.length) throw new Error(`checkpoint optimizer state lacks ${key} or has another shape`);
        a.set(saved.values);
      });
    }
    this.step = state.step;
  }

  /** Nothing to release (the state is plain arrays); kept for symmetry with tfjs optimizers. */
  dispose(): void {
    this.slots.clear();
  }
}
