/**
 * The non-learned baselines (`type: average | recent | popularity`): no
 * parameters, no latent state; the evaluation computes their predictions
 * (src/eval/baselines.ts).
 */
import type { ModelType } from "../../spec/schema";
import type { BaselineModule } from "./types";

function baseline(type: ModelType, describe: string): BaselineModule {
  return { type, learned: false, describe, latent: () => "none", summary: () => null };
}

export const averageModule = baseline("average", "the mean embedding of the user's plays so far");
export const recentModule = baseline("recent", "the mean embedding of the user's last features.fast.window plays");
export const popularityModule = baseline("popularity", "the training split's most played tracks");
