/**
 * `rubato eval --beta-grid vae-cf=...` (Mult-VAE's selection of beta on
 * validation data): one run per beta and seed, the one with the lowest
 * validation reconstruction at its best epoch stands for the model.
 */
import { evaluateModels, parseBetaGrid } from "../../src/jobs/evaluation";
import { formatBetaSelectionMarkdown } from "../../src/eval/tables";
import { loadDemoWorld } from "../../src/data/demo-data";
import type { Store } from "../../src/store/store";
import { backendName, openTestStore } from "../helpers/store";

jest.setTimeout(300_000);

describe(`rubato eval --beta-grid (${backendName})`, () => {
  let store: Store;
  const overrides = { training: { epochs: 2, batch_size: 64 }, vae_cf: { units: 16 }, latent: { size: 4, kl_warmup_steps: 10 } };
  beforeAll(async () => {
    store = await openTestStore();
    await loadDemoWorld(store, { users: 40, tracks: 150, days: 5, seed: 3 });
  });
  afterAll(async () => {
    await store.close();
  });

  it("parses MODEL=B1,B2,...", () => {
    expect(parseBetaGrid("vae-cf=0.2, 0.1,0.01")).toEqual({ model: "vae-cf", betas: [0.2, 0.1, 0.01] });
    for (const bad of ["vae-cf", "=0.1", "vae-cf=", "vae-cf=0.1,x", "vae-cf=0.1,0.1", "vae-cf=-1"])
      expect(() => parseBetaGrid(bad)).toThrow(/--beta-grid expects MODEL=B1,B2/);
  });

  it("refuses a grid for a model not evaluated or without a KL term, before anything is queued", async () => {
    const base = { seeds: [1], overrides, pollMs: 50 };
    await expect(evaluateModels(store, { ...base, models: ["average"], betaGrid: { model: "vae-cf", betas: [0.1] } })).rejects.toThrow(
      /not among the models/,
    );
    await expect(evaluateModels(store, { ...base, models: ["average"], betaGrid: { model: "average", betas: [0.1] } })).rejects.toThrow(
      /no KL term/,
    );
    const [{ n }] = await store.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM run`);
    expect(n).toBe(0);
  });

  it("trains one vae-cf run per beta and seed and keeps, per seed, the one with the lowest validation reconstruction", async () => {
    const result = await evaluateModels(store, {
      models: ["vae-cf", "average"],
      seeds: [1, 2],
      overrides,
      betaGrid: { model: "vae-cf", betas: [2, 0.01] },
      pollMs: 50,
      heartbeatMs: 500,
    });
    expect(result.failed).toBe(0);
    expect(result.models.map((m) => m.model)).toEqual(["vae-cf", "average"]);
    expect(result.runs.map((r) => r.model).sort()).toEqual([
      "average",
      "average",
      "vae-cf beta=0.01",
      "vae-cf beta=0.01",
      "vae-cf beta=2",
      "vae-cf beta=2",
    ]);
    const selection = result.betaSelection!;
    expect(selection).toMatchObject({ model: "vae-cf", betas: [2, 0.01] });
    selection.seeds.forEach((s, k) => {
      expect(s.seed).toBe(k + 1);
      expect(s.candidates.map((c) => c.status)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
      const figures = s.candidates.map((c) => c.validationReconstruction!);
      figures.forEach((f) => expect(f).toBeGreaterThan(0));
      const best = s.candidates[figures.indexOf(Math.min(...figures))];
      expect(s.chosen).toBe(best.beta);
      // The model's row is the chosen run's.
      expect(result.models[0].runs[k]).toMatchObject({ seed: k + 1, runId: best.runId, status: "SUCCEEDED" });
      expect(result.models[0].runs[k].test).not.toBeNull();
    });
    const markdown = formatBetaSelectionMarkdown(selection);
    expect(markdown).toContain("Beta of vae-cf, chosen per seed among 2, 0.01");
    expect(markdown).toMatch(/- seed 1: beta (2|0\.01) \(2: \d+\.\d{4}, 0\.01: \d+\.\d{4}\)/);
  });
});
