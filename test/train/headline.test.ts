/**
 * The headline check, end to end from the store: on a small demo world,
 * FS-VAE-quick keeps more than half of its latent units active and beats
 * the Average and Popularity baselines on L2, cosine and HR@10.
 *
 * The shipped spec as it is (batch 128: with 512 the 8 epochs were too few
 * optimizer steps to beat Average reliably; docs/model.md).
 */
import { initBackend } from "../../src/model/backend";
import { disposeFsVae } from "../../src/model/fsvae";
import { loadDemoWorld } from "../../src/data/demo-data";
import type { Store } from "../../src/store/store";
import { loadTrainingData } from "../../src/train/data";
import { formatRunReport, runTraining } from "../../src/train/run";
import { trainModel, type TrainResult } from "../../src/train/trainer";
import { openTestStore } from "../helpers/store";
import { MODELS, shippedSpec } from "./helpers";

jest.setTimeout(300_000);

let store: Store;

beforeAll(async () => {
  await initBackend(undefined, { logger: () => undefined });
  store = await openTestStore();
  await loadDemoWorld(store, { users: 150, tracks: 400, days: 14, seed: 1 });
});

afterAll(async () => {
  await store?.close();
});

describe("fs-vae-quick on a small demo world", () => {
  let result: TrainResult;
  afterAll(() => result && disposeFsVae(result.model));

  it("keeps more than half of its latent units active and beats Average, Recent and Popularity on L2, cosine and HR@10", async () => {
    const spec = shippedSpec("fs-vae-quick");
    const { dataset, catalogue } = await loadTrainingData(store, spec);
    expect(dataset.counts.users).toBeGreaterThan(140); // a few generated users never play
    result = await trainModel(spec, dataset, { catalogue, logger: () => undefined });
    const ev = result.evaluation!;
    const { model, baselines } = ev;
    const table = [
      ["fs-vae-quick", model],
      ["average", baselines.average],
      ["recent", baselines.recent],
      ["popularity", baselines.popularity],
    ] as const;
    // Printed so the figures in docs/model.md can be checked against a run.
    console.info(
      [
        `test points ${ev.rows}; active units ${ev.objective.activeUnits}/${ev.objective.latentUnits}`,
        ...table.map(
          ([name, m]) =>
            `${name.padEnd(13)} L2 ${m.l2.toFixed(3)}  cosine ${m.cosine.toFixed(3)}  HR@10 ${m.hr10.toFixed(3)}  NDCG@10 ${m.ndcg10.toFixed(3)}  MRR ${m.mrr.toFixed(4)}`,
        ),
      ].join("\n"),
    );
    expect(["completed", "early_stopped"]).toContain(result.status);
    expect(ev.objective.activeUnits).toBeGreaterThan(ev.objective.latentUnits / 2);
    expect(result.latent.activeUnits).toBeGreaterThan(result.latent.latentUnits / 2);
    expect(ev.collapse).toBeNull();
    // What sigma says, over the same points: the bins' mean L2 is the model's L2, each point in one fifth and one history bin.
    const u = ev.uncertainty!;
    console.info(`sigma: rho with L2 ${u.sigmaVsError.toFixed(3)}, with history ${u.sigmaVsHistory.toFixed(3)}; L2 by sigma fifth ${u.bySigma.map((b) => b.l2.toFixed(3)).join(" ")}`);
    expect(u.rows).toBe(ev.rows);
    expect(u.bySigma.reduce((s, b) => s + b.rows * b.l2, 0) / u.rows).toBeCloseTo(model.l2, 4);
    expect(u.byHistory.reduce((s, b) => s + b.rows, 0)).toBe(ev.rows);
    for (let q = 1; q < 5; q++) expect(u.bySigma[q].sigma).toBeGreaterThanOrEqual(u.bySigma[q - 1].sigma);
    for (const rho of [u.sigmaVsError, u.sigmaVsHistory, u.errorVsHistory]) expect(Math.abs(rho)).toBeLessThanOrEqual(1);
    for (const base of [baselines.average, baselines.recent, baselines.popularity]) {
      expect(model.l2).toBeLessThan(base.l2);
      expect(model.cosine).toBeLessThan(base.cosine);
      expect(model.hr10).toBeGreaterThan(base.hr10);
    }
  });
});

describe("runTraining (what rubato train runs)", () => {
  it("trains a spec with overrides on the first users and prints the report", async () => {
    const report = await runTraining(store, "no-fast", { modelsDir: MODELS, epochs: 1, seed: 3, maxUsers: 30, logger: () => undefined });
    expect(report.spec).toMatchObject({ name: "no-fast", training: { epochs: 1, seed: 3 } });
    expect(report.data.users).toBe(30);
    expect(report.training).toMatchObject({ status: "completed", epochs: 1 });
    const text = formatRunReport(report);
    expect(text).toMatch(/^no-fast \(spec [0-9a-f]{12}\): 30 users/);
    expect(text).toMatch(/beta +0\.01, linear warm-up from 0 over 500 steps/);
    expect(text).toMatch(/latent +\d+ of 80 units active/);
    expect(text).toMatch(/test \([\d,]+ points\) +L2 +cosine +HR@10 +NDCG@10 +MRR/);
    expect(text).toMatch(/\naverage +\d/);
    expect(text).toMatch(/\npopularity +\d/);
  });

  it("evaluates a baseline spec without training", async () => {
    const report = await runTraining(store, "popularity", { modelsDir: MODELS, maxUsers: 20 });
    expect(report.training).toBeNull();
    expect(report.test!.model).toEqual(report.test!.popularity);
    expect(formatRunReport(report)).toMatch(/baseline +popularity/);
  });

  it("reports spec errors with file and key", async () => {
    await expect(runTraining(store, "fs-vea", { modelsDir: MODELS })).rejects.toThrow(/invalid spec:\n.*no spec named "fs-vea"/);
    await expect(runTraining(store, "fs-vae-quick", { modelsDir: MODELS, epochs: 0 })).rejects.toThrow(/training\.epochs/);
  });
});
