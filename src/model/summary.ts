/**
 * A summary of the compiled graph: one row per layer with its output shape
 * and parameter count. Computed from the config alone (no tensors), so
 * `rubato validate` needs no backend; test/model/fsvae.test.ts checks the
 * counts against the real variables.
 */
import type { ModelSpec } from "../spec/schema";
import { fsVaeConfig } from "./compile";
import { latentWidth, type DenseStackConfig, type FsVaeConfig } from "./fsvae";

export interface LayerSummary {
  name: string;
  kind: string;
  /** Output shape; "b" is the batch. */
  output: (number | "b")[];
  params: number;
  /** Activation, dropout, masking etc. */
  note: string;
}

export interface ModelSummary {
  layers: LayerSummary[];
  params: number;
  /** Width of z the decoder reads. */
  latent: number;
  /** Latent units that carry a KL term (both branches), 0 when deterministic. */
  latentUnits: number;
  objective: string;
}

/** Parameters of a dense layer: kernel and bias. */
export const denseParams = (inDim: number, out: number): number => inDim * out + out;

export function summarizeConfig(config: FsVaeConfig): ModelSummary {
  const layers: LayerSummary[] = [];
  const add = (name: string, kind: string, output: LayerSummary["output"], params: number, note = "") =>
    layers.push({ name, kind, output, params, note });
  const stackNote = (c: DenseStackConfig) => `${c.activation}${c.dropout > 0 ? `, dropout ${c.dropout}` : ""}`;
  const K = config.latent.size;
  const denseStack = (prefix: string, inDim: number, c: DenseStackConfig): number => {
    for (let l = 0; l < c.layers; l++)
      add(`${prefix}/dense${l}`, "dense", ["b", c.units], denseParams(l === 0 ? inDim : c.units, c.units), stackNote(c));
    return c.units;
  };
  const head = (prefix: string, inDim: number, z: string) => {
    add(`${prefix}/mu`, "dense", ["b", K], denseParams(inDim, K), "linear");
    if (config.latent.probabilistic) {
      add(`${prefix}/log_sigma`, "dense", ["b", K], denseParams(inDim, K), "linear");
      add(z, "reparameterise", ["b", K], 0, "mu + eps * sigma (mu at inference)");
    } else add(z, "identity", ["b", K], 0, "deterministic: z = mu");
  };

  const s = config.encoderS;
  if (s) {
    add("x_s", "input", ["b", s.window, s.inputDim], 0, "fast features + mask [b, w]");
    let width = s.inputDim;
    if (s.type === "mean") {
      add("encoder_s/mean", "masked mean", ["b", s.inputDim], 0, "over real steps");
      width = denseStack("encoder_s", width, s);
    } else {
      const gates = s.type === "lstm" ? 4 : 1;
      for (let l = 0; l < s.layers; l++) {
        const inDim = l === 0 ? s.inputDim : s.units;
        const last = l === s.layers - 1;
        add(
          `encoder_s/${s.type}${l}`,
          s.type,
          last ? ["b", s.units] : ["b", s.window, s.units],
          (inDim + s.units) * gates * s.units + gates * s.units,
          stackNote(s),
        );
      }
      width = s.units;
    }
    head("encoder_s", width, "z_s");
  }
  const n = config.encoderN;
  if (n) {
    add("x_n", "input", ["b", n.inputDim], 0, "slow features");
    head("encoder_n", denseStack("encoder_n", n.inputDim, n), "z_n");
  }
  const zWidth = latentWidth(config);
  if (s && n) add("z", config.latent.combine, ["b", zWidth], 0, "g(z_s, z_n)");
  const d = config.decoder;
  const hidden = denseStack("decoder", zWidth, d);
  add("decoder/out", "dense", ["b", d.outputDim], denseParams(hidden, d.outputDim), "linear: predicted next-track embedding");
  if (config.loss.reconstruction === "gaussian_learned")
    add("decoder/log_variance", "variable", [d.outputDim], d.outputDim, "learned log-variance");
  if (d.skip && s) add("decoder/skip", "variable", [s.window], s.window, "y^ += sum_t a_t e_t over the window's track embeddings");

  const { reconstruction, beta, freeBits, klWarmupSteps } = config.loss;
  const objective = config.latent.probabilistic
    ? `${reconstruction} + beta * KL, beta = ${beta}` +
      (klWarmupSteps > 0 ? `, warmed up over ${klWarmupSteps} steps` : "") +
      (freeBits > 0 ? `, free bits ${freeBits} nats/unit` : "")
    : `${reconstruction} (deterministic latent, no KL)`;
  const branches = Number(s != null) + Number(n != null);
  return {
    layers,
    params: layers.reduce((a, l) => a + l.params, 0),
    latent: zWidth,
    latentUnits: config.latent.probabilistic ? K * branches : 0,
    objective,
  };
}

/** The summary of a learned spec for a catalogue of `embeddingDim`-dimensional tracks. */
export function summarizeSpec(spec: ModelSpec, embeddingDim: number): ModelSummary {
  return summarizeConfig(fsVaeConfig(spec, embeddingDim));
}

const shape = (s: LayerSummary["output"]) => `[${s.join(", ")}]`;

/** A fixed-width table, then the totals. */
export function formatSummary(summary: ModelSummary): string {
  const rows = summary.layers.map((l) => [l.name, l.kind, shape(l.output), l.params.toLocaleString("en-US"), l.note]);
  const header = ["layer", "kind", "output", "params", ""];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [
    line(header),
    ...rows.map(line),
    `total parameters: ${summary.params.toLocaleString("en-US")}`,
    `latent: z of width ${summary.latent}; ${summary.latentUnits} stochastic units`,
    `objective: ${summary.objective}`,
  ].join("\n");
}
