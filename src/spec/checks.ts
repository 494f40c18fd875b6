/**
 * Checks that span several fields. Single-field rules live in the schema;
 * these run once the sections they read have validated, so they are reported
 * together with any field errors elsewhere in the spec.
 */
import { LEARNED_TYPES, type ModelSpec } from "./schema";
import type { KeyPath } from "./positions";

export interface CrossIssue {
  severity: "error" | "warning";
  /** Candidate key paths; the issue is reported at the one the most derived file sets. */
  paths: KeyPath[];
  message: string;
}

export interface CrossRule {
  severity: "error" | "warning";
  /** One line for docs/spec.md. */
  doc: string;
  run(sections: Partial<ModelSpec>): CrossIssue[];
}

function rule<K extends keyof ModelSpec>(
  severity: CrossRule["severity"],
  doc: string,
  reads: K[],
  check: (s: Pick<ModelSpec, K>) => { paths: KeyPath[]; message: string } | undefined,
): CrossRule {
  return {
    severity,
    doc,
    run(sections) {
      if (!reads.every((k) => sections[k] !== undefined)) return [];
      const found = check(sections as Pick<ModelSpec, K>);
      return found ? [{ severity, ...found }] : [];
    },
  };
}

const learned = (type: ModelSpec["type"]) => (LEARNED_TYPES as readonly string[]).includes(type);

export const CROSS_RULES: CrossRule[] = [
  rule("error", "training.split: train + validation + test must equal 1 (within 1e-6).", ["training"], ({ training }) => {
    const { train, validation, test } = training.split;
    const sum = train + validation + test;
    if (Math.abs(sum - 1) <= 1e-6) return undefined;
    return {
      paths: [["training", "split"]],
      message: `fractions must sum to 1, got ${train} + ${validation} + ${test} = ${+sum.toFixed(6)}`,
    };
  }),
  rule(
    "error",
    "training.split.train must be positive for a learned type.",
    ["type", "training"],
    ({ type, training }) =>
      learned(type) && training.split.train === 0
        ? { paths: [["training", "split", "train"]], message: "must be positive: a learned model needs training data" }
        : undefined,
  ),
  rule(
    "error",
    "training.early_stopping.patience > 0 needs training.split.validation > 0.",
    ["training"],
    ({ training }) =>
      training.early_stopping.patience > 0 && training.split.validation === 0
        ? {
            paths: [
              ["training", "split", "validation"],
              ["training", "early_stopping", "patience"],
            ],
            message: "early stopping watches the validation loss, so training.split.validation must be positive (or set training.early_stopping.patience: 0)",
          }
        : undefined,
  ),
  rule(
    "error",
    "A learned type needs at least one of features.fast.enabled, features.slow.enabled.",
    ["type", "features"],
    ({ type, features }) =>
      learned(type) && !features.fast.enabled && !features.slow.enabled
        ? {
            paths: [
              ["features", "fast", "enabled"],
              ["features", "slow", "enabled"],
              ["features"],
            ],
            message: "at least one of features.fast and features.slow must be enabled",
          }
        : undefined,
  ),
  rule(
    "error",
    "latent.probabilistic: false needs loss.beta: 0 (a deterministic latent has no KL term for beta to weight).",
    ["latent", "loss"],
    ({ latent, loss }) =>
      !latent.probabilistic && loss.beta > 0
        ? {
            paths: [
              ["latent", "probabilistic"],
              ["loss", "beta"],
            ],
            message: `a deterministic latent (latent.probabilistic: false) has no KL term for loss.beta to weight; got loss.beta: ${loss.beta}, set it to 0`,
          }
        : undefined,
  ),
  rule(
    "warning",
    "latent.free_bits, latent.kl_warmup_steps and latent.initial_sigma have no effect when latent.probabilistic is false.",
    ["latent"],
    ({ latent }) => {
      if (latent.probabilistic) return undefined;
      const set = [
        ...(["free_bits", "kl_warmup_steps"] as const).filter((k) => latent[k] > 0),
        ...(latent.initial_sigma !== 1 ? ["initial_sigma" as const] : []),
      ];
      return set.length === 0
        ? undefined
        : {
            paths: set.map((k) => ["latent", k]),
            message: `${set.map((k) => `latent.${k}`).join(" and ")} ${set.length > 1 ? "have" : "has"} no effect when latent.probabilistic is false`,
          };
    },
  ),
  rule(
    "error",
    "decoder.skip needs features.fast enabled with track_embedding among its per_play signals.",
    ["type", "features", "decoder"],
    ({ type, features, decoder }) =>
      learned(type) && decoder.skip && !(features.fast.enabled && features.fast.per_play.includes("track_embedding"))
        ? {
            paths: [["decoder", "skip"]],
            message: features.fast.enabled
              ? "the skip path adds the window's track embeddings, so features.fast.per_play must include track_embedding (or set decoder.skip: false)"
              : "the skip path adds the window's track embeddings, so it needs features.fast.enabled: true (or set decoder.skip: false)",
          }
        : undefined,
  ),
  rule(
    "warning",
    "loss.variance has no effect unless loss.reconstruction is gaussian_fixed.",
    ["loss"],
    ({ loss }) =>
      loss.variance !== null && loss.reconstruction !== "gaussian_fixed"
        ? { paths: [["loss", "variance"]], message: `has no effect with loss.reconstruction: ${loss.reconstruction}` }
        : undefined,
  ),
  rule(
    "warning",
    "features.fast.shuffle has no effect with window 1 or a mean encoder (both ignore order).",
    ["features", "encoders"],
    ({ features, encoders }) =>
      features.fast.enabled && features.fast.shuffle && (features.fast.window === 1 || encoders.fast.type === "mean")
        ? {
            paths: [["features", "fast", "shuffle"]],
            message:
              features.fast.window === 1
                ? "has no effect with features.fast.window: 1"
                : "has no effect with encoders.fast.type: mean (the mean ignores order)",
          }
        : undefined,
  ),
  rule(
    "warning",
    "training.early_stopping.patience >= training.epochs can never stop training early.",
    ["training"],
    ({ training }) =>
      training.early_stopping.patience >= training.epochs
        ? {
            paths: [
              ["training", "early_stopping", "patience"],
              ["training", "epochs"],
            ],
            message: `patience ${training.early_stopping.patience} >= epochs ${training.epochs}: early stopping can never trigger`,
          }
        : undefined,
  ),
];

export function crossIssues(sections: Partial<ModelSpec>): CrossIssue[] {
  return CROSS_RULES.flatMap((r) => r.run(sections));
}
