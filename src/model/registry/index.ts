/**
 * The model registry: one module per spec `type`. Everything above the model
 * layer reaches a model through modelFor(spec.type) (or loadArtifact for a
 * stored one), never by comparing the type itself (test/architecture/model-registry.test.ts).
 * Adding a model: docs/architecture.md, "Adding a model".
 */
import { MODEL_TYPES, type ModelType } from "../../spec/schema";
import { averageModule, popularityModule, recentModule } from "./baselines";
import type { FsVae } from "../fsvae";
import { fsVaeModule, wrapFsVae } from "./fs-vae";
import { jodieModule } from "./jodie";
import { latentCrossModule } from "./latent-cross";
import { vaeCfModule } from "./vae-cf";
import type { ArtifactData, LearnedModule, Model, ModelModule } from "./types";

export type * from "./types";

const MODULES: Record<ModelType, ModelModule> = {
  "fs-vae": fsVaeModule,
  jodie: jodieModule,
  "latent-cross": latentCrossModule,
  "vae-cf": vaeCfModule,
  average: averageModule,
  recent: recentModule,
  popularity: popularityModule,
};

/** The module of a spec type. */
export function modelFor(type: ModelType): ModelModule {
  const found = MODULES[type] as ModelModule | undefined;
  if (!found) throw new Error(`no model module for type ${JSON.stringify(type)}; known: ${MODEL_TYPES.join(", ")}`);
  return found;
}

/** The module of a learned type; throws for a non-learned baseline. */
export function learnedModel(type: ModelType): LearnedModule {
  const m = modelFor(type);
  if (!m.learned) throw new Error(`${type} is a non-learned baseline: it has no parameters to build, train or load`);
  return m;
}

/** Whether a spec type has parameters to train. */
export const isLearned = (type: ModelType): boolean => modelFor(type).learned;

/** Loads a stored model with the module its artifact names (artifacts before the registry are FS-VAE's). */
export function loadArtifact(artifact: ArtifactData): Model {
  const { format, type } = artifact.topology;
  const module = Object.values(MODULES).find(
    (m): m is LearnedModule => m.learned && m.formats.includes(format) && (type === undefined || m.type === type),
  );
  if (!module) throw new Error(`unknown model artifact format ${String(format)}${type ? ` (type ${type})` : ""}`);
  return module.load(artifact);
}

/** A model, or a bare FsVae built by createFsVae (benchmarks and tests build those): the interface over it. */
export type FsVaeOrModel = Model | FsVae;

const wrapped = new WeakMap<FsVae, Model>();

export function asModel(model: FsVaeOrModel): Model {
  if ("loss" in model) return model;
  let m = wrapped.get(model);
  if (!m) wrapped.set(model, (m = wrapFsVae(model)));
  return m;
}
