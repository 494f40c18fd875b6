/**
 * mergeEvaluations (src/eval/merge.ts): parts of one evaluation, as `rubato eval --out`
 * writes them, become one. test/eval/cli.test.ts checks that a merge gives the very
 * tables one evaluation gives; these check what the JSON round trip and the parts'
 * warnings need.
 */
import { baselineWarnings } from "../../src/eval/compare";
import { mergeEvaluations } from "../../src/eval/merge";
import type { Metrics } from "../../src/eval/metrics";
import { evaluationOutput } from "../../src/eval/output";
import type { BetaSelection, LatentKind, ModelResults } from "../../src/eval/tables";
import { seedRun } from "./seed-result";

const metrics = (l2: number, hr10: number): Metrics => ({ l2, cosine: l2 / 10, hr10, ndcg10: hr10 / 2, mrr: hr10 / 3, n: 100 });
const model = (name: string, latent: LatentKind, l2: number, extra: Parameters<typeof seedRun>[2] = {}): ModelResults => ({
  model: name,
  latent,
  runs: [1, 2].map((seed) => seedRun(seed, metrics(l2, 0.1), { runId: `${name}-${seed}`, ...extra })),
});
const cutoff = new Date("2026-10-28T23:59:58.676Z");

/** A part as `rubato eval --out` writes it and JSON.parse reads it back (NaN becomes null on the way). */
function part(models: ModelResults[], extra: { warnings?: string[]; betaSelection?: BetaSelection | null } = {}) {
  const { json } = evaluationOutput({
    dataCutoff: cutoff,
    seeds: [1, 2],
    models,
    comparison: null,
    betaSelection: extra.betaSelection ?? null,
    seconds: 60,
    reused: 0,
    failed: 0,
    warnings: extra.warnings ?? [],
    modelWarnings: baselineWarnings(models),
  });
  return JSON.parse(JSON.stringify(json)) as unknown;
}

describe("mergeEvaluations", () => {
  it("keeps the parts' evaluation warnings and recomputes the model warnings over all the models", () => {
    // jodie's runs were stored before Recent was measured alongside: its own part cannot check it against recent...
    const jodie = model("jodie", "deterministic", 3.5, { average: metrics(4, 0.05), recent: null });
    const leak = "the track embeddings were learnt from plays that include the test period";
    const a = part([jodie, model("average", "none", 4)], { warnings: [leak] });
    expect((a as { warnings: string[] }).warnings).toEqual([leak, expect.stringMatching(/^jodie: not checked against recent/)]);
    // ...the other part has recent, which stands in for it in the merged tables.
    const b = part([model("recent", "none", 3.4)], { warnings: [leak] });
    const merged = mergeEvaluations([
      { source: "a.json", json: a },
      { source: "b.json", json: b },
    ]);
    expect(merged.models.map((m) => m.model)).toEqual(["jodie", "average", "recent"]);
    expect(merged.warnings).toEqual([leak]);
    expect(merged.modelWarnings).toEqual([
      "jodie does not beat recent: L2 3.500 vs 3.400, HR@10 0.100 vs 0.100 (test means over 2 seeds; recent from its own runs)",
    ]);
    expect(merged.seconds).toBe(120);
    expect(merged.parts).toEqual([
      { source: "a.json", models: ["jodie", "average"] },
      { source: "b.json", models: ["recent"] },
    ]);
  });

  it("reads back what JSON wrote as null: a correlation that is NaN", () => {
    const bins = [{ rows: 10, sigma: 0.5, l2: 3, history: 4 }];
    const uncertainty = {
      rows: 10,
      sigmaVsError: NaN,
      sigmaVsHistory: 0.2,
      errorVsHistory: -0.1,
      bySigma: bins,
      byHistory: [{ ...bins[0], from: 1, to: 5 }],
    };
    const fsVae = model("fs-vae-quick", "probabilistic", 3.2, { uncertainty });
    const merged = mergeEvaluations([
      { source: "a.json", json: part([fsVae]) },
      { source: "b.json", json: part([model("average", "none", 4)]) },
    ]);
    expect(merged.models[0].runs[0].uncertainty).toEqual(uncertainty);
  });

  it("carries the beta grid's choice, and refuses two grids or parts of different seeds", () => {
    const selection: BetaSelection = {
      model: "vae-cf",
      betas: [0.1, 0.01],
      seeds: [1, 2].map((seed) => ({
        seed,
        chosen: 0.01,
        candidates: [
          { beta: 0.1, runId: `b1-${seed}`, status: "SUCCEEDED", validationReconstruction: 2 },
          { beta: 0.01, runId: `vae-cf-${seed}`, status: "SUCCEEDED", validationReconstruction: 1 },
        ],
      })),
    };
    const a = part([model("vae-cf", "probabilistic", 4.2)], { betaSelection: selection });
    const b = part([model("average", "none", 4)]);
    expect(
      mergeEvaluations([
        { source: "a.json", json: a },
        { source: "b.json", json: b },
      ]).betaSelection,
    ).toEqual(selection);

    const other = part([model("fs-vae-quick", "probabilistic", 3.2)], { betaSelection: { ...selection, model: "fs-vae-quick" } });
    expect(() =>
      mergeEvaluations([
        { source: "a.json", json: a },
        { source: "c.json", json: other },
      ]),
    ).toThrow("the parts chose beta for more than one model (vae-cf, fs-vae-quick); an evaluation has one beta grid");

    const oneSeed = { ...(b as object), seeds: [1] };
    expect(() =>
      mergeEvaluations([
        { source: "a.json", json: a },
        { source: "d.json", json: oneSeed },
      ]),
    ).toThrow("d.json has seeds 1 and a.json has 1, 2: the parts must share their seeds");
  });
});
