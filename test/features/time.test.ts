/**
 * The time features JODIE and LatentCross read: time_since_last (per play,
 * log1p hours since the user's previous play) and hours_since_last (slow: the
 * gap from the user's last play to the prediction time t). Training batches
 * and serving give the same numbers for the same point.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import {
  buildDataset,
  featuresForServing,
  historyFrom,
  playsToRead,
  targetTime,
  userHistory,
  type Catalogue,
  type UserHistory,
} from "../../src/features";
import { specDimensions } from "../../src/spec/dimensions";
import { BatchBuilder, disposeBatch } from "../../src/train/batches";
import { smallWorld, specWith, worldCatalogue, worldHistories } from "./world";

const H = 3_600_000;
const T0 = Date.UTC(2026, 9, 1);

/** 2 tracks, dim 2. */
const catalogue: Catalogue = {
  externalIds: ["a", "b"],
  trackIds: Int32Array.of(1, 2),
  dim: 2,
  embeddings: Float32Array.of(1, 0, 0, 1),
  hasEmbedding: Uint8Array.of(1, 1),
};
// Gaps: 2 h, 0.5 h, 24 h, 3 h.
const times = [T0, T0 + 2 * H, T0 + 2.5 * H, T0 + 26.5 * H, T0 + 29.5 * H];
const history = historyFrom(
  "u1",
  times.map((at, i) => ({ track: i % 2, at })),
);

/** The plays 0..i of a history (what a point at play i may see). */
const prefix = (h: UserHistory, n: number): UserHistory => ({
  ...h,
  trackIndex: h.trackIndex.subarray(0, n),
  playedAt: h.playedAt.subarray(0, n),
  flags: h.flags.slice(0, n),
});

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("time features", () => {
  it("time_since_last: log1p hours since the previous play, 0 for the first play and for padding", async () => {
    const spec = specWith({ fast: { window: 3, per_play: ["time_since_last", "skipped"] } });
    expect(specDimensions(spec, 2).fastStep).toBe(2);
    const ds = await buildDataset([history], catalogue, spec);
    const b = new BatchBuilder(ds, 8).build(Int32Array.from({ length: ds.n }, (_, r) => r), 0, ds.n);
    const x = b.input.x_s!.arraySync();
    disposeBatch(b);
    // Row 0 (play 0): two padding steps, then the first play (gap 0).
    expect(x[0].map((s) => s[0])).toEqual([0, 0, 0]);
    // Row 3 (play 3): plays 1..3 with gaps 2, 0.5 and 24 hours.
    expect(x[3].map((s) => s[0])).toEqual([2, 0.5, 24].map((g) => Math.fround(Math.log1p(g))));
  });

  it("hours_since_last: hours from play i to the next play's time (the prediction time), scaled by the transform", async () => {
    const raw = await buildDataset([history], catalogue, specWith({ slow: { aggregates: ["plays", "hours_since_last"], transform: "none" } }));
    expect(raw.slowDim).toBe(2);
    expect(Array.from(raw.slow)).toEqual([1, 2, 2, 0.5, 3, 24, 4, 3]);
    const log = await buildDataset([history], catalogue, specWith({ slow: { aggregates: ["hours_since_last"] } }));
    expect(log.stats.transform).toBe("log1p");
    expect(Array.from(log.slow)).toEqual([2, 0.5, 24, 3].map((g) => Math.fround(Math.log1p(g))));
    // Serving: asOf is the prediction time; without it, the prediction time is the last play (gap 0).
    const spec = specWith({ slow: { aggregates: ["hours_since_last"], transform: "none" } });
    const stats = { transform: "none" as const, mean: [], std: [] };
    expect(featuresForServing(history, catalogue, spec, stats, times[4] + 5 * H)!.slow[0]).toBe(5);
    expect(featuresForServing(history, catalogue, spec, stats)!.slow[0]).toBe(0);
  });

  it("playsToRead: the window, plus the play before it with time_since_last", () => {
    expect(playsToRead(specWith({ fast: { window: 5 } }))).toBe(5);
    expect(playsToRead(specWith({ fast: { window: 5, per_play: ["track_embedding", "time_since_last"] } }))).toBe(6);
    expect(playsToRead(specWith({ fast: { window: 5, enabled: false, per_play: ["time_since_last"] } }))).toBe(5);
  });

  it.each(["log1p", "standardize"] as const)(
    "serving features of a user equal the training batch's row for the same point (%s)",
    async (transform) => {
      const world = smallWorld();
      const cat = worldCatalogue(world, new Set([0, 1, 2]));
      const spec = specWith({
        fast: { window: 4, per_play: ["track_embedding", "time_since_last", "daypart", "skipped"], shuffle: true },
        slow: { aggregates: ["plays", "skips", "hours_since_last"], transform, daypart_shares: true },
      });
      const ds = await buildDataset(worldHistories(world), cat, spec);
      const rows = Int32Array.from({ length: Math.ceil(ds.n / 37) }, (_, k) => k * 37);
      const builder = new BatchBuilder(ds, rows.length);
      const batch = builder.build(rows, 0, rows.length);
      const [x_s, mask, x_n] = [batch.input.x_s!.dataSync(), batch.input.mask!.dataSync(), batch.input.x_n!.dataSync()];
      disposeBatch(batch);
      const fw = ds.window * ds.fastStep;
      let gaps = 0;
      rows.forEach((r, k) => {
        // The point at play i predicts play i+1: the features of plays 0..i as of play i+1's time.
        const h = prefix(userHistory(ds, ds.userIndex[r]), ds.position[r] + 1);
        const f = featuresForServing(h, cat, spec, ds.stats, targetTime(ds, r))!;
        expect(f.fast).toEqual(x_s.subarray(k * fw, (k + 1) * fw));
        expect(f.mask).toEqual(mask.subarray(k * ds.window, (k + 1) * ds.window));
        expect(f.slow).toEqual(x_n.subarray(k * ds.slowDim, (k + 1) * ds.slowDim));
        if (targetTime(ds, r) > f.time) gaps++;
      });
      expect(gaps).toBeGreaterThan(rows.length / 2);
    },
  );
});
