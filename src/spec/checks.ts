/**
 * Checks that span several fields. Single-field rules live in the schema;
 * these run once the sections they read have validated, so they are reported
 * together with any field errors elsewhere in the spec.
 */
import { LEARNED_TYPES, type ModelSpec, type ModelType } from "./schema";
import type { KeyPath } from "./positions";
import { CONTEXT_SIGNALS } from "./vocabulary";

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

/** A rule that holds only for specs of one model type (what that model reads from the features). */
function forType(type: ModelType, r: CrossRule): CrossRule {
  return { ...r, doc: `type: ${type}: ${r.doc}`, run: (sections) => (sections.type === type ? r.run(sections) : []) };
}

/** The per-play signals of `need` the fast features lack (all of them when the fast branch is off). */
const missingPerPlay = (fast: ModelSpec["features"]["fast"], need: readonly string[]) =>
  need.filter((s) => !fast.enabled || !(fast.per_play as readonly string[]).includes(s));

/** JODIE reads the time since the previous play at each step and the gap to the prediction time (src/model/jodie.ts). */
const JODIE_RULES: CrossRule[] = [
  rule("error", "needs features.fast and features.slow enabled (the user RNN and the projection read both).", ["features"], ({ features }) => {
    const off = (["fast", "slow"] as const).filter((b) => !features[b].enabled);
    return off.length === 0
      ? undefined
      : {
          paths: off.map((b) => ["features", b, "enabled"]),
          message: `jodie reads both branches: its user RNN the fast features, its projection and static vector the slow ones; set ${off.map((b) => `features.${b}.enabled`).join(" and ")}: true`,
        };
  }),
  rule("error", "needs track_embedding and time_since_last in features.fast.per_play.", ["features"], ({ features }) => {
    const missing = features.fast.enabled ? missingPerPlay(features.fast, ["track_embedding", "time_since_last"]) : [];
    return missing.length === 0
      ? undefined
      : {
          paths: [["features", "fast", "per_play"]],
          message: `jodie's user RNN reads the played track's embedding and the time since the user's previous play: add ${missing.join(" and ")} to features.fast.per_play`,
        };
  }),
  rule("error", "needs hours_since_last in features.slow.aggregates (the projection's time delta).", ["features"], ({ features }) =>
    features.slow.enabled && !features.slow.aggregates.includes("hours_since_last")
      ? {
          paths: [["features", "slow", "aggregates"]],
          message: "jodie projects the user's embedding over the time from the last play to the prediction: add hours_since_last to features.slow.aggregates",
        }
      : undefined,
  ),
];

/** LatentCross crosses the track embeddings with a context (src/model/latent-cross.ts). */
const LATENT_CROSS_RULES: CrossRule[] = [
  rule(
    "error",
    `needs features.fast enabled with track_embedding and at least one context signal (${CONTEXT_SIGNALS.join(", ")}) in its per_play.`,
    ["features"],
    ({ features }) => {
      const { fast } = features;
      if (!fast.enabled)
        return { paths: [["features", "fast", "enabled"]], message: "latent-cross is a recurrent model over the last plays: set features.fast.enabled: true" };
      const problems = [
        ...missingPerPlay(fast, ["track_embedding"]),
        ...(missingPerPlay(fast, CONTEXT_SIGNALS).length === CONTEXT_SIGNALS.length ? [`a context (one of ${CONTEXT_SIGNALS.join(", ")})`] : []),
      ];
      return problems.length === 0
        ? undefined
        : {
            paths: [["features", "fast", "per_play"]],
            message: `latent-cross crosses each played track's embedding with its context: add ${problems.join(" and ")} to features.fast.per_play`,
          };
    },
  ),
  rule("error", "loss.reconstruction: gaussian_learned is not supported.", ["loss"], ({ loss }) =>
    loss.reconstruction === "gaussian_learned"
      ? { paths: [["loss", "reconstruction"]], message: "latent-cross does not learn a variance: use mse, l2 or gaussian_fixed" }
      : undefined,
  ),
];

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
  // Only FS-VAE has a decoder: jodie and latent-cross specs inherit fs-vae-quick's decoder.skip without reading it.
  forType(
    "fs-vae",
    rule(
      "error",
      "decoder.skip needs features.fast enabled with track_embedding among its per_play signals.",
      ["features", "decoder"],
      ({ features, decoder }) =>
        decoder.skip && !(features.fast.enabled && features.fast.per_play.includes("track_embedding"))
          ? {
              paths: [["decoder", "skip"]],
              message: features.fast.enabled
                ? "the skip path adds the window's track embeddings, so features.fast.per_play must include track_embedding (or set decoder.skip: false)"
                : "the skip path adds the window's track embeddings, so it needs features.fast.enabled: true (or set decoder.skip: false)",
            }
          : undefined,
    ),
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
  ...JODIE_RULES.map((r) => forType("jodie", r)),
  ...LATENT_CROSS_RULES.map((r) => forType("latent-cross", r)),
];

export function crossIssues(sections: Partial<ModelSpec>): CrossIssue[] {
  return CROSS_RULES.flatMap((r) => r.run(sections));
}
