/** Small training fixtures: a tiny synthetic world as a dataset, and specs from models/ with overrides. */
import * as path from "node:path";
import { buildDataset, type Dataset } from "../../src/features/dataset";
import type { Catalogue } from "../../src/features/history";
import { applyOverrides, loadSpec } from "../../src/spec";
import type { ModelSpec } from "../../src/spec/schema";
import type { FsVae } from "../../src/model/fsvae";
import { smallWorld, worldCatalogue, worldHistories } from "../features/world";

export const MODELS = path.resolve(__dirname, "../../models");

export function shippedSpec(name: string, overrides?: unknown): ModelSpec {
  const r = loadSpec(name, { modelsDir: MODELS });
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join("; "));
  if (!overrides) return r.spec;
  const o = applyOverrides(r.spec, overrides);
  if (!o.ok) throw new Error(o.errors.map((e) => `${e.path}: ${e.message}`).join("; "));
  return o.spec;
}

/** fs-vae-quick shrunk to train in a second or two on the tiny world. */
export function tinySpec(training: Record<string, unknown> = {}, more: Record<string, unknown> = {}): ModelSpec {
  return shippedSpec("fs-vae-quick", {
    encoders: { fast: { units: 12 }, slow: { units: 8 } },
    decoder: { units: 12 },
    latent: { size: 4, kl_warmup_steps: 20 },
    ...more,
    training: { epochs: 3, batch_size: 64, learning_rate: 3e-3, ...training },
  });
}

/** The tiny world (40 users, 300 tracks of dimension 16, 7 days) built for a spec. */
export async function tinyData(spec: ModelSpec): Promise<{ dataset: Dataset; catalogue: Catalogue }> {
  const world = smallWorld();
  const catalogue = worldCatalogue(world);
  return { dataset: await buildDataset(worldHistories(world), catalogue, spec), catalogue };
}

export function weights(model: Pick<FsVae, "variables">): Map<string, Float32Array> {
  return new Map(model.variables.map((v) => [v.key, (v.variable.dataSync() as Float32Array).slice()]));
}

export function maxDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let worst = 0;
  for (const [k, v] of a) {
    const w = b.get(k)!;
    for (let i = 0; i < v.length; i++) worst = Math.max(worst, Math.abs(v[i] - w[i]));
  }
  return worst;
}
