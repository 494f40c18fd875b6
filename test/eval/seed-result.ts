import type { Metrics } from "../../src/eval/metrics";
import type { SeedResult } from "../../src/eval/tables";

/** A seed's result as the evaluation collects it: SUCCEEDED with `test`, FAILED without. */
export function seedRun(seed: number, test: Metrics | null, extra: Partial<SeedResult> = {}): SeedResult {
  return {
    seed,
    runId: `run-${seed}`,
    status: test ? "SUCCEEDED" : "FAILED",
    error: test ? null : "training: boom",
    reused: false,
    test,
    average: null,
    recent: null,
    popularity: null,
    testRows: test ? 100 : null,
    uncertainty: null,
    activeUnits: null,
    latentUnits: null,
    schedule: null,
    epochs: 1,
    seconds: 1,
    wallSeconds: 2,
    ...extra,
  };
}
