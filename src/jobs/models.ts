/**
 * The model catalogue the API lists: shipped specs (models/*.yaml) and the
 * specs of earlier runs under names that are not shipped ("stored" specs,
 * which startTraining accepts by name too). Also validation of spec text
 * without training.
 */
import { listShippedSpecs, parseSpec, type SpecError, type ModelType } from "../spec";
import { SHIPPED_MODELS_DIR } from "../spec/load";
import { modelFor } from "../model/registry";
import type { ModelSummary } from "../model/summary";
import { getEmbeddingDim } from "../store/catalog";
import type { Store } from "../store/store";
import { newestSpecs } from "../store/runs";
import { memoryProblem, resolveRunSpec } from "./runs";

export interface ModelInfo {
  name: string;
  source: "SHIPPED" | "STORED";
  type: ModelType;
  description: string;
  /** Names it extends, nearest first. */
  parents: string[];
  /** The resolved spec (YAML after extends). */
  spec: string;
  hash: string;
}

export async function listModels(store: Store, modelsDir = SHIPPED_MODELS_DIR): Promise<ModelInfo[]> {
  const shipped = listShippedSpecs(modelsDir).flatMap(({ name, result }) =>
    result.ok
      ? [
          {
            name,
            source: "SHIPPED" as const,
            type: result.spec.type,
            description: result.spec.description,
            parents: result.parents,
            spec: result.yaml,
            hash: result.hash,
          },
        ]
      : [],
  );
  const names = new Set(shipped.map((m) => m.name));
  const stored = await newestSpecs(store);
  const fromRuns = stored.flatMap(({ modelName: model_name, specYaml: spec_yaml }) => {
    if (names.has(model_name)) return [];
    const result = parseSpec(spec_yaml, { file: `<run spec ${model_name}>` });
    return result.ok
      ? [
          {
            name: model_name,
            source: "STORED" as const,
            type: result.spec.type,
            description: result.spec.description,
            parents: [],
            spec: result.yaml,
            hash: result.hash,
          },
        ]
      : [];
  });
  return [...shipped, ...fromRuns];
}

export interface SpecValidation {
  valid: boolean;
  errors: SpecError[];
  warnings: SpecError[];
  name: string | null;
  hash: string | null;
  /** The resolved spec, when valid. */
  resolved: string | null;
  /** The compiled graph (learned models only), sized for the store's track embeddings (80 when there are none yet). */
  summary: ModelSummary | null;
}

/** Checks spec YAML (which may extend a shipped spec) as startTraining would, without training. */
export async function validateSpecText(store: Store, spec: string, modelsDir = SHIPPED_MODELS_DIR): Promise<SpecValidation> {
  const result = resolveRunSpec({ spec }, modelsDir);
  if (!result.ok)
    return { valid: false, errors: result.errors, warnings: result.warnings, name: null, hash: null, resolved: null, summary: null };
  const tooBig = await memoryProblem(store, result.spec);
  if (tooBig) return { valid: false, errors: [tooBig], warnings: result.warnings, name: null, hash: null, resolved: null, summary: null };
  const dim = (await getEmbeddingDim(store)) ?? 80;
  return {
    valid: true,
    errors: [],
    warnings: result.warnings,
    name: result.spec.name,
    hash: result.hash,
    resolved: result.yaml,
    summary: modelFor(result.spec.type).summary(result.spec, dim),
  };
}
