import { aggregateMetrics, baselinePredictions, evaluatePredictions, formatMeanStd, popularityVector, ranks } from "../../src/eval";
import { buildDataset, type Catalogue, type Dataset } from "../../src/features";
import { smallWorld, specWith, worldCatalogue, worldHistories } from "../features/world";
import { materialise } from "../features/materialise";

function catalogueOf(rows: number[][], has?: number[]): Catalogue {
  const dim = rows[0].length;
  return {
    externalIds: rows.map((_, i) => `t${i}`),
    trackIds: Int32Array.from(rows, (_, i) => i + 1),
    dim,
    embeddings: Float32Array.from(rows.flat()),
    hasEmbedding: Uint8Array.from(rows, (_, i) => has?.[i] ?? 1),
  };
}

/** Only what evaluatePredictions reads: row k is user k, whose second play (at minute k + 1) is the target. */
function targetsOf(cat: Catalogue, trueRows: number[]): Dataset {
  const n = trueRows.length;
  return {
    dim: cat.dim,
    catalogue: cat,
    targetIndex: Int32Array.from(trueRows),
    userIndex: Int32Array.from(trueRows, (_, k) => k),
    position: new Int32Array(n),
    plays: {
      trackIndex: Int32Array.from(trueRows.flatMap((t) => [0, t])),
      playedAt: Float64Array.from(trueRows.flatMap((_, k) => [k * 60_000, (k + 1) * 60_000])),
      userStart: Int32Array.from({ length: n + 1 }, (_, k) => 2 * k),
    },
  } as unknown as Dataset;
}

let seed = 9;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;

describe("metrics", () => {
  it("a hand-computed case: L2, cosine, HR@10, NDCG@10, MRR", () => {
    const cat = catalogueOf([
      [1, 0],
      [0, 1],
      [2, 0],
    ]);
    const m = evaluatePredictions(Float32Array.of(1.9, 0, 0, 2), targetsOf(cat, [0, 1]), cat, [0, 1]);
    // Row 0: true [1,0], pred [1.9,0]: L2 0.9, cosine 0, rank 2 ([2,0] is nearer). Row 1: true [0,1], pred [0,2]: L2 1, cosine 0, rank 1.
    expect(m.n).toBe(2);
    expect(m.l2).toBeCloseTo(0.95, 6);
    expect(m.cosine).toBeCloseTo(0, 6);
    expect(m.hr10).toBe(1);
    expect(m.ndcg10).toBeCloseTo((1 / Math.log2(3) + 1) / 2, 6);
    expect(m.mrr).toBeCloseTo(0.75, 6);
    // The test period starts with the earliest evaluated target.
    expect(m.from).toBe(60_000);
    expect(evaluatePredictions(Float32Array.of(0, 2), targetsOf(cat, [0, 1]), cat, [1]).from).toBe(120_000);
    // A zero prediction has cosine distance 1.
    expect(evaluatePredictions(Float32Array.of(0, 0), targetsOf(cat, [0]), cat, [0]).cosine).toBe(1);
  });

  it("the mean norm of the predictions and of the targets", () => {
    const cat = catalogueOf([
      [3, 4],
      [0, 1],
    ]);
    // Predictions [1.9, 0] and [0, 0.5]: norms 1.9 and 0.5; targets [3, 4] and [0, 1]: norms 5 and 1.
    const m = evaluatePredictions(Float32Array.of(1.9, 0, 0, 0.5), targetsOf(cat, [0, 1]), cat, [0, 1]);
    expect(m.predictionNorm).toBeCloseTo(1.2, 6);
    expect(m.targetNorm).toBeCloseTo(3, 6);
    const none = evaluatePredictions(new Float32Array(0), targetsOf(cat, []), cat, []);
    expect([none.n, none.predictionNorm, none.targetNorm]).toEqual([0, NaN, NaN]);
  });

  it("exact ranks equal a full sort; ties go to the earlier catalogue row; tracks without embedding are no candidates", () => {
    const base = Array.from({ length: 120 }, () => Array.from({ length: 6 }, rand));
    base[50] = base[10].slice(); // an exact duplicate: a tie
    const has = base.map((_, i) => (i % 17 === 5 ? 0 : 1));
    const cat = catalogueOf(base, has);
    const cand = base.map((_, i) => i).filter((i) => has[i]);
    const trueRows = [10, 50, 0, 1, 2, 3, 4, 119, 33, 77, 64];
    const pred = Float32Array.from(trueRows.flatMap((t) => base[t].map((v) => v + rand() * 0.5)));
    pred.set(cat.embeddings.subarray(10 * 6, 11 * 6), 0);
    pred.set(cat.embeddings.subarray(10 * 6, 11 * 6), 6);
    const got = ranks(pred, Int32Array.from(trueRows), cat);
    trueRows.forEach((t, k) => {
      const d = (i: number) => base[i].reduce((a, v, j) => a + (Math.fround(v) - pred[k * 6 + j]) ** 2, 0);
      const order = [...cand].sort((a, b) => d(a) - d(b) || a - b);
      expect(got[k]).toBe(order.indexOf(t) + 1);
    });
    expect(got[0]).toBe(1); // row 10 itself
    expect(got[1]).toBe(2); // its duplicate, row 50, comes after it
    expect(() => ranks(pred.subarray(0, 6), Int32Array.of(5), cat)).toThrow("has no embedding");
  });

  it("aggregates mean ± sample std over seeds", () => {
    const run = (x: number) => ({ l2: x, cosine: x / 10, hr10: 0.5, ndcg10: 0.25, mrr: 0.1, n: 100 });
    const agg = aggregateMetrics([run(1), run(2), run(3)]);
    expect(agg.l2).toEqual({ mean: 2, std: 1, runs: 3 });
    expect(agg.hr10.std).toBe(0);
    expect(formatMeanStd(agg.l2, 2)).toBe("2.00 ± 1.00");
    expect(aggregateMetrics([run(4)]).l2).toEqual({ mean: 4, std: 0, runs: 1 });
  });
});

/**
 * A hand-built dataset: each user's plays (catalogue rows) in order, one row per
 * play that has a next play; only what the baselines read.
 */
function playsOf(users: number[][]): Dataset {
  const trackIndex = Int32Array.from(users.flat());
  const userStart = Int32Array.from([0, ...users.map((_, u) => users.slice(0, u + 1).flat().length)]);
  const userIndex: number[] = [];
  const position: number[] = [];
  users.forEach((plays, u) =>
    plays.slice(0, -1).forEach((_, i) => {
      userIndex.push(u);
      position.push(i);
    }),
  );
  return {
    plays: { trackIndex, userStart },
    userIndex: Int32Array.from(userIndex),
    position: Int32Array.from(position),
  } as unknown as Dataset;
}

describe("the recent baseline on a hand-built dataset", () => {
  // Track 2 has no embedding.
  const cat = catalogueOf(
    [
      [1, 0],
      [0, 1],
      [2, 2],
      [4, 0],
    ],
    [1, 1, 0, 1],
  );
  // User 0 plays 0, 1, 3, 2, 1, 0; user 1 plays 3, 0; user 2 plays 2, 2, 1.
  const ds = playsOf([
    [0, 1, 3, 2, 1, 0],
    [3, 0],
    [2, 2, 1],
  ]);
  const rowOf = (u: number, i: number) => [0, 5, 6][u] + i;
  const predict = (window: number, rows: number[]) => Array.from(baselinePredictions("recent", ds, cat, rows, { window }));

  it("w = 2: the mean of the last two plays up to and including t", () => {
    expect(predict(2, [rowOf(0, 0)])).toEqual([1, 0]); // only one play so far
    expect(predict(2, [rowOf(0, 1)])).toEqual([0.5, 0.5]); // plays 0 and 1
    expect(predict(2, [rowOf(0, 2)])).toEqual([2, 0.5]); // plays 1 and 3
    expect(predict(2, [rowOf(1, 0)])).toEqual([4, 0]);
  });

  it("skips a play without an embedding; the window is counted before skipping", () => {
    // Row (user 0, play 3): the last two plays are track 3 and track 2 (no embedding): track 3 alone, not tracks 1 and 3.
    expect(predict(2, [rowOf(0, 3)])).toEqual([4, 0]);
    // Row (user 0, play 4): track 2 and track 1: track 1 alone.
    expect(predict(2, [rowOf(0, 4)])).toEqual([0, 1]);
    // A window of plays that all lack an embedding predicts zeros.
    expect(predict(2, [rowOf(2, 1)])).toEqual([0, 0]);
  });

  it("w = 1 is the current play; a window longer than the history is Average; rows in any order", () => {
    const rows = [rowOf(1, 0), rowOf(0, 4), rowOf(0, 2), rowOf(0, 0), rowOf(2, 1)];
    expect(predict(1, rows)).toEqual([4, 0, 0, 1, 4, 0, 1, 0, 0, 0]);
    const average = Array.from(baselinePredictions("average", ds, cat, rows));
    expect(predict(100, rows).map((v) => +v.toFixed(6))).toEqual(average.map((v) => +v.toFixed(6)));
    // ...and a shorter one is not: (user 0, play 4) with w = 2 is track 1, Average is the mean of tracks 0, 1 and 3.
    expect(predict(2, [rowOf(0, 4)])).not.toEqual(Array.from(baselinePredictions("average", ds, cat, [rowOf(0, 4)])));
  });

  it("needs a window", () => {
    expect(() => baselinePredictions("recent", ds, cat, [0])).toThrow(
      "the recent baseline needs a window of at least 1 play (the spec's features.fast.window), got undefined",
    );
    expect(() => baselinePredictions("recent", ds, cat, [0], { window: 0 })).toThrow(/got 0$/);
  });
});

describe("non-learned baselines", () => {
  const world = smallWorld({ users: 60, tracks: 400, days: 10, seed: 11 });
  const catalogue = worldCatalogue(world, new Set([1, 2]));
  let ds: Dataset;
  beforeAll(async () => {
    ds = await buildDataset(worldHistories(world), catalogue, specWith());
  });

  it("average: the mean embedding of the user's plays up to and including t", () => {
    const rows = [ds.rows.test[0], ds.rows.test[5], ...ds.rows.train.subarray(0, 30), ds.rows.test[3]];
    const pred = baselinePredictions("average", ds, catalogue, rows);
    rows.forEach((r, k) => {
      const u = ds.userIndex[r];
      const tracks = Array.from(ds.plays.trackIndex.subarray(ds.plays.userStart[u], ds.plays.userStart[u] + ds.position[r] + 1));
      const withEmb = tracks.filter((t) => catalogue.hasEmbedding[t]);
      for (let j = 0; j < catalogue.dim; j++) {
        const mean = withEmb.reduce((a, t) => a + catalogue.embeddings[t * catalogue.dim + j], 0) / withEmb.length;
        expect(pred[k * catalogue.dim + j]).toBeCloseTo(mean, 5);
      }
    });
  });

  it("popularity: the play-weighted mean of the top tracks among training targets, the same for every row", () => {
    const counts = new Map<number, number>();
    for (const r of ds.rows.train) counts.set(ds.targetIndex[r], (counts.get(ds.targetIndex[r]) ?? 0) + 1);
    const top = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 5);
    const total = top.reduce((a, [, c]) => a + c, 0);
    const v = popularityVector(ds, catalogue, 5);
    for (let j = 0; j < catalogue.dim; j++)
      expect(v[j]).toBeCloseTo(top.reduce((a, [t, c]) => a + c * catalogue.embeddings[t * catalogue.dim + j], 0) / total, 5);
    const pred = baselinePredictions("popularity", ds, catalogue, ds.rows.test.subarray(0, 3), { top: 5 });
    expect(pred.subarray(16, 32)).toEqual(v);
  });

  it("recent with the spec's window is the mean of the fast features' track embeddings (the fast features without learning)", () => {
    const { window, fastStep, dim } = ds;
    expect(window).toBe(5);
    const rows = [...ds.rows.train.subarray(0, 200), ...ds.rows.test.subarray(0, 50)];
    const pred = baselinePredictions("recent", ds, catalogue, rows, { window });
    let skipped = 0;
    const m = materialise(ds);
    rows.forEach((r, k) => {
      const sum = new Float64Array(dim);
      let count = 0;
      for (let s = 0; s < window; s++) {
        if (!m.mask[r * window + s]) continue;
        // The step's first `dim` values are the play's track embedding (per_play starts with track_embedding); zeros without one.
        const e = m.fast.subarray((r * window + s) * fastStep, (r * window + s) * fastStep + dim);
        if (e.every((v) => v === 0)) {
          skipped++;
          continue;
        }
        e.forEach((v, j) => (sum[j] += v));
        count++;
      }
      for (let j = 0; j < dim; j++) expect(pred[k * dim + j]).toBeCloseTo(count ? sum[j] / count : 0, 5);
    });
    expect(skipped).toBeGreaterThan(0); // the world has tracks without an embedding, and some windows hold one
  });

  it("reports Average, Recent and Popularity on the test split of a small world", () => {
    const rows = ds.rows.test;
    const report: Record<string, ReturnType<typeof evaluatePredictions>> = {};
    for (const kind of ["average", "recent", "popularity"] as const)
      report[kind] = evaluatePredictions(baselinePredictions(kind, ds, catalogue, rows, { window: 5 }), ds, catalogue, rows);
    console.log(
      `baselines on ${ds.counts.events} events, ${rows.length} test rows:\n` +
        Object.entries(report)
          .map(
            ([k, m]) =>
              `  ${k}: l2 ${m.l2.toFixed(3)} cosine ${m.cosine.toFixed(3)} hr10 ${m.hr10.toFixed(3)} ndcg10 ${m.ndcg10.toFixed(3)} mrr ${m.mrr.toFixed(4)}`,
          )
          .join("\n"),
    );
    for (const m of Object.values(report)) {
      expect(m.n).toBe(rows.length);
      for (const v of [m.l2, m.cosine, m.hr10, m.ndcg10, m.mrr]) expect(Number.isFinite(v)).toBe(true);
      expect(m.ndcg10).toBeLessThanOrEqual(m.hr10);
      expect(m.mrr).toBeGreaterThan(0);
    }
  });
});
