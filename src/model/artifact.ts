/**
 * A trained model as stored data: the topology (the compiled configuration,
 * the variables' keys and shapes, and the feature scaling serving must reuse)
 * and the weights as one float32 buffer in the variables' fixed order.
 * FS-VAE's format is "rubato-fsvae/1"; other model types use the same layout
 * under a format of their own (packArtifact, unpackArtifact).
 */
import * as tf from "@tensorflow/tfjs-core";
import { createFsVae, type FsVae, type FsVaeConfig } from "./fsvae";
import type { ArtifactData } from "./registry/types";

export interface ModelTopology {
  format: "rubato-fsvae/1";
  /** The spec type ("fs-vae"); absent in artifacts written before the model registry. */
  type?: "fs-vae";
  config: FsVaeConfig;
  variables: { key: string; shape: number[] }[];
  /** Anything the serving path needs besides weights (e.g. feature scaling). */
  extra: Record<string, unknown>;
}

export interface ModelArtifactData {
  topology: ModelTopology;
  weights: Buffer;
}

type Variables = { key: string; variable: tf.Variable }[];

/** The variables' values, one after another, as bytes. */
export function packWeights(variables: Variables): Buffer {
  const parts = variables.map(({ variable }) => variable.dataSync() as Float32Array);
  const total = parts.reduce((n, p) => n + p.length, 0);
  const all = new Float32Array(total);
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.length;
  }
  return Buffer.from(all.buffer, all.byteOffset, all.byteLength);
}

/** Assigns stored weights to freshly built variables, checking keys and shapes against the topology. */
export function unpackWeights(variables: Variables, expected: { key: string; shape: number[] }[], bytes: Buffer): void {
  const weights = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  let offset = 0;
  variables.forEach(({ key, variable }, i) => {
    const e = expected[i];
    if (!e || e.key !== key || e.shape.join() !== variable.shape.join()) {
      throw new Error(`model artifact does not match its topology at variable ${key}`);
    }
    const size = variable.size;
    tf.tidy(() => variable.assign(tf.tensor(weights.subarray(offset, offset + size), variable.shape)));
    offset += size;
  });
  if (offset !== weights.length) throw new Error(`model artifact has ${weights.length} weights; its topology needs ${offset}`);
}

/** A model's artifact in the common layout: its format and type, its config, its variables' keys and shapes, and their weights. */
export function packArtifact(
  format: string,
  type: string,
  config: unknown,
  variables: Variables,
  extra: Record<string, unknown> = {},
): ArtifactData {
  return {
    topology: { format, type, config, variables: variables.map(({ key, variable }) => ({ key, shape: variable.shape })), extra },
    weights: packWeights(variables),
  };
}

/** A model rebuilt from its artifact: `build` makes fresh variables from the stored config, then the weights are assigned (disposed if they do not fit). */
export function unpackArtifact<M extends { variables: Variables }>(
  artifact: ArtifactData,
  build: (config: unknown) => M,
  dispose: (model: M) => void,
): M {
  const model = build(artifact.topology.config);
  try {
    unpackWeights(model.variables, artifact.topology.variables, artifact.weights);
  } catch (e) {
    dispose(model);
    throw e;
  }
  return model;
}

export function saveModel(model: FsVae, extra: Record<string, unknown> = {}): ModelArtifactData {
  return packArtifact("rubato-fsvae/1", "fs-vae", model.config, model.variables, extra) as ModelArtifactData;
}

export function loadModel(artifact: ModelArtifactData): FsVae {
  const { topology } = artifact;
  if (topology.format !== "rubato-fsvae/1") throw new Error(`unknown model artifact format ${String(topology.format)}`);
  const model = createFsVae(topology.config, 0);
  unpackWeights(model.variables, topology.variables, artifact.weights);
  return model;
}
