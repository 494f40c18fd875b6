/**
 * x_b, the bag of plays (src/features/bag.ts): the dataset's prefix sums every
 * 64 plays plus the remainder equal the plain mean of the plays 0..i that have
 * an embedding, across block boundaries; serving (a whole history, or play
 * counts per track) gives the training row; the batch builder builds x_b only
 * for a model that reads it, and nothing else then.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import {
  buildDataset,
  datasetBytes,
  ensureBag,
  featuresForServing,
  pointFeatures,
  targetTime,
  userHistory,
  type Dataset,
} from "../../src/features";
import { BAG_BLOCK, bagOfCounts, bagOfHistory } from "../../src/features/bag";
import { historyFrom, type Catalogue, type UserHistory } from "../../src/features/history";
import { normals } from "../../src/model/random";
import type { InputShape } from "../../src/model/registry";
import { BatchBuilder, disposeBatch } from "../../src/train/batches";
import { specWith } from "./world";

const D = 6;
const TRACKS = 40;
const H = 3_600_000;
const T0 = Date.UTC(2026, 9, 1);

/** 40 tracks of dimension 6 with varied magnitudes; tracks 0 and 7 have no embedding. */
const catalogue: Catalogue = (() => {
  const embeddings = normals(TRACKS * D, 11).map((v, k) => v * (1 + (k % 5)));
  const hasEmbedding = new Uint8Array(TRACKS).fill(1);
  for (const t of [0, 7]) {
    hasEmbedding[t] = 0;
    embeddings.fill(0, t * D, (t + 1) * D);
  }
  return {
    externalIds: Array.from({ length: TRACKS }, (_, i) => `t${i}`),
    trackIds: Int32Array.from({ length: TRACKS }, (_, i) => i + 1),
    dim: D,
    embeddings,
    hasEmbedding,
  };
})();

/** Users with 1, 2, 63, 64, 65, 130 and 300 plays: the block boundaries and a few blocks. */
const LENGTHS = [1, 2, 63, 64, 65, 130, 300];
function histories(): UserHistory[] {
  return LENGTHS.map((len, u) =>
    historyFrom(
      `u${u}`,
      Array.from({ length: len }, (_, i) => ({ track: (i * 7 + u * 3 + ((i * i) % 5)) % TRACKS, at: T0 + (u * 1000 + i) * H })),
      u + 1,
    ),
  );
}

/** The mean embedding of plays 0..i with an embedding, summed play by play in float64 (0 when none). */
function bruteForce(tracks: ArrayLike<number>, i: number): number[] {
  const acc = new Array<number>(D).fill(0);
  let n = 0;
  for (let j = 0; j <= i; j++) {
    const t = tracks[j];
    if (!catalogue.hasEmbedding[t]) continue;
    n++;
    for (let k = 0; k < D; k++) acc[k] += catalogue.embeddings[t * D + k];
  }
  return acc.map((a) => (n ? a / n : 0));
}

const prefix = (h: UserHistory, n: number): UserHistory => ({
  ...h,
  trackIndex: h.trackIndex.subarray(0, n),
  playedAt: h.playedAt.subarray(0, n),
  flags: h.flags.slice(0, n),
});

const BAG_ONLY: InputShape = { window: 0, fastStep: 0, slowDim: 0, bagDim: D, outputDim: D };

let ds: Dataset;

beforeAll(async () => {
  await tf.setBackend("cpu");
  ds = await buildDataset(histories(), catalogue, specWith({ type: "vae-cf", fast: { window: 3 } }));
});

describe("the bag of plays x_b", () => {
  it("is absent until a model asks for it, then holds a prefix sum every 64 plays of each user", () => {
    const fresh = { ...ds, bag: undefined };
    expect(pointFeatures(fresh, 0).bag).toBeUndefined();
    const before = datasetBytes(fresh);
    const bag = ensureBag(fresh);
    expect(ensureBag(fresh)).toBe(bag);
    const blocks = LENGTHS.reduce((n, len) => n + Math.floor(len / BAG_BLOCK), 0);
    expect(Array.from(bag.userBlock)).toEqual(LENGTHS.reduce((a, len) => [...a, a[a.length - 1] + Math.floor(len / BAG_BLOCK)], [0]));
    expect(bag.sums.length).toBe(blocks * D);
    expect(bag.sums.buffer).toBeInstanceOf(SharedArrayBuffer);
    // (4 D + 4) bytes every 64 plays.
    expect(datasetBytes(fresh) - before).toBe(blocks * (4 * D + 4) + 4 * (LENGTHS.length + 1));
  });

  it("equals the brute-force mean of the plays up to the point, before, at and past the 64-play blocks", () => {
    ensureBag(ds);
    let checked = 0;
    for (let r = 0; r < ds.n; r++) {
      const h = userHistory(ds, ds.userIndex[r]);
      const i = ds.position[r];
      const got = Array.from(pointFeatures(ds, r).bag!);
      const want = bruteForce(h.trackIndex, i);
      got.forEach((v, k) => expect(Math.abs(v - want[k])).toBeLessThan(1e-5 * (1 + Math.abs(want[k]))));
      checked++;
    }
    // Every point of every user (the last play has none, nor a play whose next track has no embedding).
    expect(checked).toBe(LENGTHS.reduce((n, len) => n + len - 1, 0) - ds.counts.targetWithoutEmbedding);
    expect(ds.counts.targetWithoutEmbedding).toBeGreaterThan(0);
    expect(Math.max(...Array.from(ds.position))).toBeGreaterThan(4 * BAG_BLOCK);
  });

  it("gives 0 before any play with an embedding", () => {
    const only = historyFrom("x", [
      { track: 0, at: T0 },
      { track: 7, at: T0 + H },
      { track: 3, at: T0 + 2 * H },
    ]);
    expect(Array.from(bagOfHistory(only.trackIndex.subarray(0, 2), catalogue))).toEqual(new Array(D).fill(0));
    expect(Array.from(bagOfHistory(only.trackIndex, catalogue))).toEqual(Array.from(catalogue.embeddings.subarray(3 * D, 4 * D)));
  });

  it("at serving time equals the training batch's row, to the bit; from play counts per track, to float rounding", () => {
    ensureBag(ds);
    const rows = Int32Array.from({ length: ds.n }, (_, r) => r).filter((r) => r % 3 === 0);
    const builder = new BatchBuilder(ds, rows.length, BAG_ONLY);
    const batch = builder.build(rows, 0, rows.length);
    expect(batch.input.x_s).toBeUndefined();
    expect(batch.input.mask).toBeUndefined();
    expect(batch.input.x_n).toBeUndefined();
    const x_b = batch.input.x_b!.dataSync();
    expect(batch.input.x_b!.shape).toEqual([rows.length, D]);
    disposeBatch(batch);
    rows.forEach((r, k) => {
      const h = prefix(userHistory(ds, ds.userIndex[r]), ds.position[r] + 1);
      const f = featuresForServing(h, catalogue, ds.spec, ds.stats, targetTime(ds, r), { bag: true })!;
      expect(f.bag).toEqual(x_b.subarray(k * D, (k + 1) * D));
      // The store's path: counts per distinct track.
      const counts = new Map<number, number>();
      h.trackIndex.forEach((t) => counts.set(t, (counts.get(t) ?? 0) + 1));
      const viaCounts = bagOfCounts([...counts.keys()], [...counts.values()], catalogue);
      viaCounts.forEach((v, j) => expect(Math.abs(v - f.bag[j])).toBeLessThan(1e-5 * (1 + Math.abs(v))));
    });
    // Without { bag: true } serving computes none; a ServingHistory without its bag is refused.
    const h = userHistory(ds, 5);
    expect(featuresForServing(h, catalogue, ds.spec, ds.stats)!.bag.length).toBe(0);
    expect(() =>
      featuresForServing({ history: h, counts: new Float64Array(10) }, catalogue, ds.spec, ds.stats, undefined, { bag: true }),
    ).toThrow(/bag/);
  });

  it("is built into a batch only when the model's inputs ask for it; other batches are unchanged", () => {
    const rows = Int32Array.of(0, 5, 70, 200);
    const plain = new BatchBuilder(ds, 4).build(rows, 0, 4);
    const fsVaeLike = new BatchBuilder(ds, 4, {
      window: ds.window,
      fastStep: ds.fastStep,
      slowDim: ds.slowDim,
      bagDim: 0,
      outputDim: D,
    }).build(rows, 0, 4);
    expect(plain.input.x_b).toBeUndefined();
    expect(fsVaeLike.input.x_b).toBeUndefined();
    expect(fsVaeLike.input.x_s!.dataSync()).toEqual(plain.input.x_s!.dataSync());
    expect(fsVaeLike.input.mask!.dataSync()).toEqual(plain.input.mask!.dataSync());
    expect(fsVaeLike.input.x_n!.dataSync()).toEqual(plain.input.x_n!.dataSync());
    expect(fsVaeLike.y.dataSync()).toEqual(plain.y.dataSync());
    const bagged = new BatchBuilder(ds, 4, BAG_ONLY).build(rows, 0, 4);
    expect(bagged.y.dataSync()).toEqual(plain.y.dataSync());
    [plain, fsVaeLike, bagged].forEach(disposeBatch);
  });
});
