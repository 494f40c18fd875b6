import { buildDataset, featuresForServing, FLAG, historyFrom, permutation, RAW_INDEX, type Catalogue } from "../../src/features";
import { daypartOf } from "../../src/demo/world";
import { daypartOfMs } from "../../src/features/history";
import { specDimensions } from "../../src/spec/dimensions";
import { specWith } from "./world";
import { materialise, type Materialised } from "./materialise";

const H = 3_600_000;
const T0 = Date.UTC(2026, 9, 1); // midnight UTC

/** 4 tracks, dim 2: track i = [i, 10 i]; track 3 has no embedding. */
const catalogue: Catalogue = {
  externalIds: ["a", "b", "c", "d"],
  trackIds: Int32Array.of(1, 2, 3, 4),
  dim: 2,
  embeddings: Float32Array.of(0, 0, 1, 10, 2, 20, 0, 0),
  hasEmbedding: Uint8Array.of(1, 1, 1, 0),
};

const { skipped, liked, addedToPlaylist, restarted } = FLAG;
// night, morning (like b), afternoon (b again: a liked play), evening (skip), night next day (restart + playlist).
const plays = [
  { track: 0, at: T0 + 1 * H },
  { track: 1, at: T0 + 7 * H, flags: liked },
  { track: 1, at: T0 + 13 * H },
  { track: 2, at: T0 + 19 * H, flags: skipped },
  { track: 0, at: T0 + 25 * H, flags: restarted | addedToPlaylist },
  { track: 3, at: T0 + 26 * H },
  { track: 1, at: T0 + 27 * H },
];
const history = historyFrom("u1", plays, 1);

describe("features of one hand-made history", () => {
  it("daypart boundaries are UTC hours 0-6, 6-12, 12-18, 18-24 (as the demo world)", () => {
    for (const h of [0, 5, 6, 11, 12, 17, 18, 23, 24, 30]) expect(daypartOfMs(T0 + h * H + 59_999)).toBe(daypartOf(T0 + h * H + 59_999));
    expect([0, 6, 12, 18].map((h) => daypartOfMs(T0 + h * H))).toEqual([0, 1, 2, 3]);
    expect(daypartOfMs(T0 - 1)).toBe(3);
  });

  it("builds one row per play that has a next play with an embedding, and counts the skipped one", async () => {
    const spec = specWith({ slow: { transform: "none", daypart_shares: true }, split: { train: 1, validation: 0, test: 0 } });
    const ds = await buildDataset([history], catalogue, spec);
    // 7 plays -> 6 points; the point whose next track (d) has no embedding is dropped.
    expect(ds.n).toBe(5);
    expect(ds.counts).toEqual({ users: 1, events: 7, afterCutoff: 0, targetWithoutEmbedding: 1, usersWithoutPoints: 0 });
    expect(Array.from(ds.position)).toEqual([0, 1, 2, 3, 5]);
    expect(Array.from(ds.targetIndex)).toEqual([1, 1, 2, 0, 1]);
    const m = materialise(ds);
    expect(Array.from(m.target.subarray(0, 4))).toEqual([1, 10, 1, 10]);
    expect(Array.from(m.time)).toEqual([0, 1, 2, 3, 5].map((i) => plays[i].at));
    expect(ds.slowDim).toBe(10);

    // x_n at play 5 (6 plays): plays, likes, playlist_adds, skips, restarts, liked_plays, then daypart shares.
    const row = (r: number) => Array.from(ds.slow.subarray(r * 10, r * 10 + 10));
    expect(row(4)).toEqual([6, 1, 1, 1, 1, 2, 3 / 6, 1 / 6, 1 / 6, 1 / 6].map(Math.fround));
    // At play 1 (the like itself), liked_plays already counts it.
    expect(row(1).slice(0, 6)).toEqual([2, 1, 0, 0, 0, 1]);
  });

  it("x_s is left-padded with a mask; steps follow per_play order; liked means 'liked at or before this play'", async () => {
    const spec = specWith({
      fast: { window: 3, per_play: ["skipped", "liked", "daypart", "restarted", "added_to_playlist", "track_embedding"] },
    });
    const d = specDimensions(spec, 2).fastStep;
    expect(d).toBe(10);
    const ds = await buildDataset([history], catalogue, spec);
    const m = materialise(ds);
    const step = (r: number, s: number) => Array.from(m.fast.subarray((r * 3 + s) * d, (r * 3 + s + 1) * d));
    expect(Array.from(m.mask.subarray(0, 3))).toEqual([0, 0, 1]);
    expect(Array.from(m.mask.subarray(3, 6))).toEqual([0, 1, 1]);
    expect(Array.from(m.mask.subarray(6, 9))).toEqual([1, 1, 1]);
    expect(step(0, 0)).toEqual(new Array(10).fill(0));
    expect(step(0, 2)).toEqual([0, 0, 1, 0, 0, 0, 0, 0, 0, 0]); // play 0: night, track a = [0, 0]
    expect(step(2, 2)).toEqual([0, 1, 0, 0, 1, 0, 0, 0, 1, 10]); // play 2: b again, liked before, afternoon
    expect(step(3, 2)).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 2, 20]); // play 3: skipped, evening
    // Row 4 is play 5 (track d, no embedding): zeros in its embedding slot, still a real step.
    expect(step(4, 1)).toEqual([0, 0, 1, 0, 0, 0, 1, 1, 0, 0]); // play 4: night, restart + playlist
    expect(step(4, 2)).toEqual([0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("log1p and standardize scale the counts, not the shares; serving reuses the stats", async () => {
    const log = await buildDataset([history], catalogue, specWith({ slow: { transform: "log1p", daypart_shares: true } }));
    expect(log.slow[0]).toBeCloseTo(Math.log(2), 6);
    expect(log.slow[6]).toBe(1); // share of night plays at play 0
    const spec = specWith({ slow: { transform: "standardize" } });
    const std = await buildDataset([history], catalogue, spec);
    expect(std.stats.transform).toBe("standardize");
    const train = std.rows.train;
    const col = (k: number) => Array.from(train, (r) => std.slow[r * 6 + k]);
    const mean = col(0).reduce((a, b) => a + b, 0) / train.length;
    expect(mean).toBeCloseTo(0, 6);
    expect(col(0).reduce((a, b) => a + b * b, 0) / train.length).toBeCloseTo(1, 5);
    const served = featuresForServing(history, catalogue, spec, std.stats, plays[5].at);
    expect(Array.from(served!.slow)).toEqual(Array.from(std.slow.subarray(4 * 6, 5 * 6)));
  });

  it("a cut-off drops later plays and their points", async () => {
    const ds = await buildDataset([history], catalogue, specWith(), { cutoff: new Date(plays[3].at) });
    expect(ds.counts.events).toBe(4);
    expect(ds.counts.afterCutoff).toBe(3);
    expect(ds.n).toBe(3);
  });

  it("shuffle permutes only the real plays of the window, deterministically per seed, padding stays left", async () => {
    const many = historyFrom(
      "u2",
      Array.from({ length: 12 }, (_, i) => ({ track: i % 3, at: T0 + i * H, flags: i % 2 ? skipped : 0 })),
    );
    const build = async (fast: object, seed?: number) => materialise(await buildDataset([many], catalogue, specWith({ fast, seed })));
    const plainDs = await buildDataset([many], catalogue, specWith({ fast: { window: 5 } }));
    const plain = { ...materialise(plainDs), n: plainDs.n, fastStep: plainDs.fastStep };
    const a = await build({ window: 5, shuffle: true }, 1);
    const b = await build({ window: 5, shuffle: true }, 1);
    const c = await build({ window: 5, shuffle: true }, 2);
    expect(a.fast).toEqual(b.fast);
    expect(a.fast).not.toEqual(plain.fast);
    expect(c.fast).not.toEqual(a.fast);
    expect(a.mask).toEqual(plain.mask);
    const d = plain.fastStep;
    const steps = (ds: Materialised, r: number) =>
      Array.from({ length: 5 }, (_, s) => Array.from(ds.fast.subarray((r * 5 + s) * d, (r * 5 + s + 1) * d)).join());
    for (let r = 0; r < plain.n; r++) expect(steps(a, r).sort()).toEqual(steps(plain, r).sort());
    // Row 1 has two real plays: the three padding steps stay zero on the left.
    expect(steps(a, 1).slice(0, 3)).toEqual(steps(plain, 1).slice(0, 3));
    expect(Array.from(permutation(6, 42)).sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("split by time: each user's points in time order, 70/20/10", async () => {
    const many = historyFrom(
      "u3",
      Array.from({ length: 11 }, (_, i) => ({ track: i % 3, at: T0 + i * H })),
    );
    const ds = await buildDataset([many], catalogue, specWith());
    expect(Array.from(ds.split)).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1, 2]);
    expect(Array.from(ds.rows.test)).toEqual([9]);
  });

  it("featuresForServing: null without plays; the asOf play is the last at or before it", () => {
    const spec = specWith({ slow: { transform: "none" } });
    const stats = { transform: "none" as const, mean: [], std: [] };
    expect(featuresForServing(history, catalogue, spec, stats, T0)).toBeNull();
    const f = featuresForServing(history, catalogue, spec, stats, plays[2].at + 1)!;
    expect(f.plays).toBe(3);
    expect(f.time).toBe(plays[2].at);
    expect(f.slow[RAW_INDEX.liked_plays]).toBe(2);
    expect(Array.from(f.mask)).toEqual([0, 0, 1, 1, 1]);
  });
});
