import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { evaluateModels, parseSeeds, resolveEvaluationModels, type EvaluationProgress } from "../../src/jobs/evaluation";
import { getRun } from "../../src/jobs/runs";
import { SHIPPED_MODELS_DIR } from "../../src/spec/load";
import { aggregateMetrics, METRIC_NAMES, type Metrics } from "../../src/eval/metrics";
import { formatEvaluationMarkdown, tableRow } from "../../src/eval/tables";
import { loadDemoWorld } from "../../src/data/demo-data";
import type { Store } from "../../src/store/store";
import { openTestStore, backendName } from "../helpers/store";
import { TINY } from "../jobs/helpers";

/**
 * A models directory with the shipped specs the test uses plus one that
 * validates but cannot run on this world: a split by user whose validation
 * and test fractions are too small for 60 users (it fails at the data stage).
 */
function modelsDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rubato-eval-models-"));
  for (const name of ["fs-vae", "fs-vae-quick", "no-fast", "average", "recent"])
    fs.copyFileSync(path.join(SHIPPED_MODELS_DIR, `${name}.yaml`), path.join(dir, `${name}.yaml`));
  fs.writeFileSync(
    path.join(dir, "tiny-split.yaml"),
    "name: tiny-split\nextends: fs-vae-quick\ntraining: { split: { by: user, train: 0.998, validation: 0.001, test: 0.001 } }\n",
  );
  return dir;
}

describe(`rubato eval: the protocol (${backendName})`, () => {
  let store: Store;
  const dir = modelsDir();
  const overrides = { ...TINY, training: { ...TINY.training, epochs: 1 } };
  beforeAll(async () => {
    store = await openTestStore();
    await loadDemoWorld(store, { users: 60, tracks: 200, days: 7, seed: 3 });
  });
  afterAll(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("parses seeds as a count or a list", () => {
    expect(parseSeeds("3")).toEqual([1, 2, 3]);
    expect(parseSeeds("7, 11,13")).toEqual([7, 11, 13]);
    expect(() => parseSeeds("0")).toThrow(/at least 1/);
    expect(() => parseSeeds("1,x")).toThrow(/--seeds expects a count N \(seeds 1\.\.N\) or a list/);
    expect(() => parseSeeds("2,2")).toThrow(/twice/);
  });

  it("names a model given as a spec file by its spec's name, or by its path where that name is taken", async () => {
    const file = path.join(dir, "variants", "low-beta.yaml");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, "name: fs-vae-low-beta\nextends: fs-vae-quick\nloss: { beta: 0.001 }\n");
    const clash = path.join(dir, "variants", "clash.yaml");
    fs.writeFileSync(clash, "name: fs-vae-quick\nextends: fs-vae\nloss: { beta: 0.001 }\n");
    const resolved = await resolveEvaluationModels(store, ["fs-vae-quick", file, clash], [1], { modelsDir: dir });
    expect(resolved.map((m) => m.model)).toEqual(["fs-vae-quick", "fs-vae-low-beta", clash]);
    expect(resolved[1].perSeed[0].name).toBe("fs-vae-low-beta");
  });

  it("rejects an unknown model, listing the known ones, before anything is queued", async () => {
    const err = await evaluateModels(store, { models: ["fs-vae-quick", "no-fats"], seeds: [1], modelsDir: dir }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(
      /^unknown model "no-fats"; .* known models: average, fs-vae, fs-vae-quick, no-fast, recent, tiny-split$/,
    );
    const [{ n }] = await store.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM run");
    expect(n).toBe(0);
  });

  it("trains one run per model and seed on one cut-off, tables them from the stored metrics, reports failures, and reuses runs", async () => {
    const progress: EvaluationProgress[] = [];
    const result = await evaluateModels(store, {
      models: ["fs-vae-quick", "average", "no-fast", "tiny-split"],
      seeds: [1, 2],
      overrides,
      concurrency: 2,
      modelsDir: dir,
      pollMs: 100,
      heartbeatMs: 200,
      compare: "average",
      onProgress: (p) => progress.push(p),
    });

    // Every run is a stored run with the same data cut-off: the newest play.
    const [{ newest }] = await store.sql.query<{ newest: Date }>("SELECT max(played_at) AS newest FROM listening_event");
    expect(result.dataCutoff.getTime()).toBe(new Date(newest).getTime());
    expect(result.runs.map((r) => `${r.model}/${r.seed}`)).toEqual([
      "fs-vae-quick/1",
      "fs-vae-quick/2",
      "average/1",
      "average/2",
      "no-fast/1",
      "no-fast/2",
      "tiny-split/1",
      "tiny-split/2",
    ]);
    const stored = await Promise.all(result.runs.map((r) => getRun(store, r.runId)));
    for (const r of stored) expect(r.dataCutoff!.getTime()).toBe(result.dataCutoff.getTime());
    expect(stored.map((r) => r.seed)).toEqual([1, 2, 1, 2, 1, 2, 1, 2]);
    expect(stored.map((r) => r.status)).toEqual([...Array(6).fill("SUCCEEDED"), "FAILED", "FAILED"]);
    expect(stored[0].specYaml).toContain("epochs: 1");
    expect(stored[2].specYaml).not.toContain("units: 8"); // overrides apply to learned models only

    // The failing runs are reported with their error, not thrown.
    expect(result.failed).toBe(2);
    const tiny = result.models.find((m) => m.model === "tiny-split")!;
    expect(tiny.runs.map((r) => r.status)).toEqual(["FAILED", "FAILED"]);
    expect(tiny.runs[0].error).toMatch(/^data: .*too few users for the split/);
    const md = formatEvaluationMarkdown(result);
    expect(md).toContain("| tiny-split | - | - | - | - | - |");
    expect(md).toContain("0 of 2 (**2 failed**)");
    expect(md).toMatch(/- tiny-split seed 1, run [0-9a-f-]{36}: FAILED: data: /);

    // Each row's mean ± std is computed from the metrics the runs stored.
    for (const m of result.models.filter((m) => m.model !== "tiny-split")) {
      const runs = stored.filter((r) => result.runs.find((p) => p.runId === r.id)!.model === m.model);
      const tests = runs.map((r) => (r.metrics as { test: { model: Metrics } }).test.model);
      const expected = aggregateMetrics(tests);
      const row = tableRow(m);
      for (const name of METRIC_NAMES) {
        expect(row.metrics![name].mean).toBeCloseTo(expected[name].mean, 12);
        expect(row.metrics![name].std).toBeCloseTo(expected[name].std, 12);
      }
      expect(row.succeeded).toBe(2);
    }
    // Different seeds train different models; Average does not depend on the seed.
    const fsvae = result.models[0].runs;
    expect(fsvae[0].test!.l2).not.toBe(fsvae[1].test!.l2);
    expect(tableRow(result.models[1]).metrics!.l2.std).toBe(0);
    expect(tableRow(result.models[0])).toMatchObject({ activeUnits: "8 / 8", schedule: "β 0.01, warm-up 500 steps, free bits 0.05" });
    expect(tableRow(result.models[2]).activeUnits).toMatch(/^\d+(-\d+)? \/ 4$/); // no-fast: the slow branch only
    // Average, Recent and Popularity on the same rows as the model, and the norms of predictions and targets.
    expect(fsvae[0].average!.n).toBe(fsvae[0].test!.n);
    expect(fsvae[0].recent!.n).toBe(fsvae[0].test!.n);
    expect(fsvae[0].recent!.l2).not.toBe(fsvae[0].average!.l2);
    expect(fsvae[0].test!.predictionNorm).toBeGreaterThan(0);
    expect(fsvae[0].test!.targetNorm).toBeCloseTo(fsvae[0].average!.targetNorm!, 6); // the same targets
    expect((stored[0].metrics as { test: { recent: Metrics } }).test.recent.l2).toBe(fsvae[0].recent!.l2);
    expect(tableRow(result.models[0]).norms!.prediction.runs).toBe(2);

    // The paired comparison against average: every other model, on the seeds both ran.
    expect(result.comparison!.map((c) => [c.model, c.seeds, c.leftOut])).toEqual([
      ["fs-vae-quick", [1, 2], []],
      ["no-fast", [1, 2], []],
      ["tiny-split", [], [1, 2]],
    ]);
    const l2 = result.comparison![0].metrics.find((m) => m.metric === "l2")!;
    expect(l2.differences[1]).toBeCloseTo(fsvae[1].test!.l2 - result.models[1].runs[1].test!.l2, 12);
    // A learned model is named when it does not beat Average or Recent; the check uses each run's stored baselines.
    for (const w of result.modelWarnings) expect(w).toMatch(/^(fs-vae-quick|no-fast) does not beat (average|recent): (L2|HR@10) /);
    const beatsAverage = (m: (typeof result.models)[number]) => {
      const mean = (f: (r: (typeof m.runs)[number]) => number) => m.runs.reduce((a, r) => a + f(r), 0) / m.runs.length;
      return mean((r) => r.test!.l2) < mean((r) => r.average!.l2) && mean((r) => r.test!.hr10) > mean((r) => r.average!.hr10);
    };
    expect(result.modelWarnings.some((w) => w.startsWith("fs-vae-quick does not beat average"))).toBe(!beatsAverage(result.models[0]));
    expect(fsvae[0].wallSeconds).toBeGreaterThan(fsvae[0].seconds! * 0.99);

    // Progress: every run ended once, and at some point a run was training.
    const ended = progress.flatMap((p) => (p.ended ? [p.ended.index] : []));
    expect(ended.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(progress.some((p) => p.active.length > 0)).toBe(true);
    expect(progress[progress.length - 1]).toMatchObject({ total: 8, done: 8, failed: 2 });

    // Again: the successful runs are reused, the failed ones tried again.
    // (--compare with a model not in the list adds it: two new Recent runs.)
    const again = await evaluateModels(store, {
      models: ["fs-vae-quick", "average", "no-fast", "tiny-split"],
      seeds: [1, 2],
      overrides,
      modelsDir: dir,
      pollMs: 100,
      compare: "recent",
    });
    expect(again.runs.map((r) => `${r.model}/${r.seed}`).slice(8)).toEqual(["recent/1", "recent/2"]);
    expect(again.runs.map((r) => r.reused)).toEqual([...Array(6).fill(true), false, false, false, false]);
    expect(again.comparison!.map((c) => c.model)).toEqual(["fs-vae-quick", "average", "no-fast", "tiny-split"]);
    expect(again.comparison![0].reference).toBe("recent");
    // Recent's own runs and the Recent each learned run stored agree: the same rows, the same window.
    expect(again.models[4].runs[0].test!.l2).toBeCloseTo(again.models[0].runs[0].recent!.l2, 12);
    expect(again.runs.slice(0, 6).map((r) => r.runId)).toEqual(result.runs.slice(0, 6).map((r) => r.runId));
    expect(again.failed).toBe(2);
    expect(tableRow(again.models[0]).metrics).toEqual(tableRow(result.models[0]).metrics);
  });
});
