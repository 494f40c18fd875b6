import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { runMovement } from "../../src/jobs/movement";
import { startRun } from "../../src/jobs/runs";
import { RunWorker } from "../../src/jobs/worker";
import { chartLibraries, writeReport } from "../../src/report";
import { loadDemoWorld } from "../../src/data/demo-data";
import type { Store } from "../../src/store/store";
import { backendName, openTestStore } from "../helpers/store";
import { ended, TINY, waitForRun } from "../jobs/helpers";
import { allUrls, CHROMIUM, dumpDom, embeddedData, loadableUrls } from "./page";

const haveChromium = fs.existsSync(CHROMIUM);
const inCI = process.env.CI === "true";
if (!haveChromium && !inCI)
  console.warn(`skipping the headless-browser check: ${CHROMIUM} is missing; install it with: sudo apt-get install -y chromium`);

/** A held-out period long enough for changes after 7 plays: 30 % of each user's points are test points. */
const SPLIT = { by: "time", train: 0.6, validation: 0.1, test: 0.3 };

describe(`report and movement on trained runs (${backendName})`, () => {
  let store: Store;
  let out: string;
  const ids: string[] = [];

  beforeAll(async () => {
    store = await openTestStore();
    out = fs.mkdtempSync(path.join(os.tmpdir(), "rubato-report-"));
    await loadDemoWorld(store, { users: 40, tracks: 120, days: 10, seed: 5 });
    for (const seed of [1, 2]) {
      const run = await startRun(store, {
        model: "fs-vae-quick",
        seed,
        overrides: { ...TINY, training: { ...TINY.training, epochs: 1, split: SPLIT } },
      });
      ids.push(run.id);
    }
    ids.push((await startRun(store, { model: "average", overrides: { training: { split: SPLIT } } })).id);
    const worker = new RunWorker(store, { exclusive: store.backend === "pglite", pollMs: 100, heartbeatMs: 500 });
    await worker.start();
    try {
      for (const id of ids) expect((await waitForRun(store, id, ended)).status).toBe("SUCCEEDED");
    } finally {
      await worker.stop();
      await worker.idle();
    }
  });
  afterAll(async () => {
    await store?.close();
    if (out) fs.rmSync(out, { recursive: true, force: true });
  });

  it("measures how far the model's and Average's embeddings move after 1 and 7 plays, the same every time", async () => {
    const m = await runMovement(store, ids[0], { users: 12 });
    expect(m).toMatchObject({ runId: ids[0], modelName: "fs-vae-quick", users: 12 });
    expect(m.analysis.methods).toEqual(["fs-vae-quick", "fs-vae-quick z_s (fast)", "fs-vae-quick z_n (slow)", "average"]);
    expect(m.analysis.lags).toEqual([1, 7]);
    for (const l of m.analysis.byLag) {
      const model = l.kinds.l2.methods["fs-vae-quick"];
      const average = l.kinds.l2.methods.average;
      // the same users and steps: the same pairs for every method
      expect(model.summary.n).toBeGreaterThan(0);
      for (const name of m.analysis.methods) expect(l.kinds.l2.methods[name].summary.n).toBe(average.summary.n);
      // mu is z_s and z_n side by side (combine: concat): its squared change is the sum of theirs
      const fast = l.kinds.l2.methods["fs-vae-quick z_s (fast)"].values;
      const slow = l.kinds.l2.methods["fs-vae-quick z_n (slow)"].values;
      model.values.forEach((v, i) => expect(v ** 2).toBeCloseTo(fast[i] ** 2 + slow[i] ** 2, 4));
      expect(Math.min(...model.values)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...l.kinds.cosine.methods["fs-vae-quick"].values)).toBeLessThanOrEqual(2);
    }
    // every step gives a pair after 1 step except each user's last: pairs(1) = steps - users (no gaps when every track has an embedding)
    expect(m.analysis.byLag[0].kinds.l2.methods.average.summary.n).toBe(m.steps - m.users);
    // Average moves less after 1 step than after 7 (a running mean drifts)
    expect(m.analysis.byLag[0].kinds.l2.methods.average.summary.mean).toBeLessThan(
      m.analysis.byLag[1].kinds.l2.methods.average.summary.mean,
    );

    const again = await runMovement(store, ids[0], { users: 12 });
    expect(again.analysis).toEqual(m.analysis);
    const all = await runMovement(store, ids[0], { users: 1000, lags: [2] });
    expect(all.candidates).toBe(40);
    expect(all.users).toBeGreaterThan(12);
    expect(all.users).toBeLessThanOrEqual(40);
    expect(all.analysis.lags).toEqual([2]);
  });

  it("refuses a run without a model and bad options, saying what was expected", async () => {
    await expect(runMovement(store, ids[2])).rejects.toThrow(/has no model \(a non-learned baseline\)/);
    await expect(runMovement(store, ids[0], { lags: [0] })).rejects.toThrow(/steps must be positive whole numbers/);
    await expect(runMovement(store, "nope")).rejects.toThrow(/run ids are UUIDs/);
  });

  it("writes one self-contained page whose every chart draws in headless Chromium", async () => {
    const { file, charts, data } = await writeReport(store, ids, out, { movement: { users: 10 } });
    expect(file).toBe(path.join(out, "index.html"));
    // 2 learned runs x (loss, beta and active units) + 4 movement histograms + correlation + dayparts; the Average run has no curves
    expect(charts).toBe(2 * 2 + 4 + 2);
    expect(data.runs.map((r) => [r.modelName, r.seed, r.status])).toEqual([
      ["fs-vae-quick", 1, "SUCCEEDED"],
      ["fs-vae-quick", 2, "SUCCEEDED"],
      ["average", 7, "SUCCEEDED"],
    ]);
    expect(data.runs[0].schedule).toEqual({ beta: 0.01, warmupSteps: 500, freeBits: 0.05 });
    expect(data.runs[0].latentUnits).toBe(8);
    expect(data.runs[0].curves.epochs).toHaveLength(1);
    expect(data.metricsTable[0]).toMatchObject({ model: "fs-vae-quick", runs: 2 });
    expect("skipped" in data.movement ? null : data.movement.runId).toBe(ids[0]);
    expect(data.listening.users).toBe(data.store.users);
    expect(data.listening.dayparts.reduce((n, d) => n + d.plays, 0)).toBe(data.listening.plays);
    expect(data.listening.correlation[0][0]).toBeCloseTo(1, 10);

    const html = fs.readFileSync(file, "utf8");
    expect((embeddedData(html) as { charts: unknown[] }).charts).toHaveLength(charts);
    expect(loadableUrls(html)).toEqual([]);
    // the only URLs in the page are the ones in the inlined libraries' licence banners
    const libraryUrls = new Set(chartLibraries().flatMap((l) => allUrls(l.source)));
    expect(allUrls(html).filter((u) => !libraryUrls.has(u))).toEqual([]);

    if (!haveChromium) {
      if (inCI) throw new Error(`${CHROMIUM} is missing in CI: .ci/run installs it (apt-get install -y chromium)`);
      return; // skipped with a message (above)
    }
    const dom = await dumpDom(file);
    const canvases = [...dom.matchAll(/<canvas\b[^>]*>/g)].map((m) => m[0]);
    expect(canvases).toHaveLength(charts);
    expect(canvases.filter((c) => c.includes("data-error"))).toEqual([]);
    expect(canvases.filter((c) => !c.includes('data-drawn="true"'))).toEqual([]);
    expect(/<body[^>]*data-charts-drawn="(\d+)"/.exec(dom)?.[1]).toBe(String(charts));
  });
});
