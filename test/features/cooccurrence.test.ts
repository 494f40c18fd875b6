import { Matrix, SingularValueDecomposition } from "ml-matrix";
import {
  CooccurrenceCounts,
  cooccurrenceMatrix,
  neighbourAgreement,
  sessionStarts,
  learnTrackEmbeddings,
  orthonormalize,
  ppmi,
  randomizedSvd,
  type Csr,
} from "../../src/features";
import { Rng } from "../../src/random";
import { smallWorld, worldHistories } from "./world";

/** Two listeners: [0, 1, 2, 0] and [3, 3, 1], window 2. */
function handMade(window = 2): CooccurrenceCounts {
  const counts = new CooccurrenceCounts(5, window, 4); // tiny table: exercises growth
  counts.addHistory([0, 1, 2, 0]);
  counts.addHistory(Int32Array.from([3, 3, 1]));
  return counts;
}

function dense(m: Csr): number[][] {
  const out = Array.from({ length: m.rows }, () => new Array<number>(m.cols).fill(0));
  for (let r = 0; r < m.rows; r++) for (let k = m.rowPtr[r]; k < m.rowPtr[r + 1]; k++) out[r][m.colIndex[k]] = m.values[k];
  return out;
}

function csrOf(rows: number[][]): Csr {
  const rowPtr = [0];
  const colIndex: number[] = [];
  const values: number[] = [];
  for (const row of rows) {
    row.forEach((v, c) => {
      if (v !== 0) {
        colIndex.push(c);
        values.push(v);
      }
    });
    rowPtr.push(colIndex.length);
  }
  return {
    rows: rows.length,
    cols: rows[0].length,
    rowPtr: Int32Array.from(rowPtr),
    colIndex: Int32Array.from(colIndex),
    values: Float64Array.from(values),
  };
}

describe("co-occurrence counts", () => {
  it("counts every pair of plays at most `window` apart, once per pair of positions, never a track with itself", () => {
    const c = handMade();
    // [0,1,2,0]: (1,0) (2,1) (2,0) (0,1) (0,2) -> {0,1}: 2, {0,2}: 2, {1,2}: 1. [3,3,1]: (3,3) skipped, (1,3) twice.
    expect(c.get(0, 1)).toBe(2);
    expect(c.get(1, 0)).toBe(2);
    expect(c.get(0, 2)).toBe(2);
    expect(c.get(1, 2)).toBe(1);
    expect(c.get(1, 3)).toBe(2);
    expect(c.get(3, 3)).toBe(0);
    expect(c.get(0, 3)).toBe(0);
    expect(c.pairs).toBe(4);
    expect(Array.from(c.plays)).toEqual([2, 2, 1, 2, 0]);
    expect([c.histories, c.totalPlays]).toEqual([2, 7]);
    // Window 1: only neighbours. [0,1,2,0]: {0,1} {1,2} {0,2}; [3,3,1]: {1,3}.
    const w1 = handMade(1);
    expect([w1.get(0, 1), w1.get(1, 2), w1.get(0, 2), w1.get(1, 3)]).toEqual([1, 1, 1, 1]);
  });

  it("rejects a play outside the catalogue and a bad window, saying what was expected", () => {
    expect(() => new CooccurrenceCounts(3, 2).addHistory([0, 3])).toThrow("play 1 of history 0 names track row 3; expected 0..2");
    expect(() => new CooccurrenceCounts(3, 0)).toThrow("window: expected a positive integer, got 0");
  });

  it("builds the symmetric count matrix over kept tracks, columns ascending", () => {
    const c = handMade();
    const all = cooccurrenceMatrix(c, Int32Array.from([0, 1, 2, 3, -1]), 4);
    expect(dense(all)).toEqual([
      [0, 2, 2, 0],
      [2, 0, 1, 2],
      [2, 1, 0, 0],
      [0, 2, 0, 0],
    ]);
    for (let r = 0; r < all.rows; r++) {
      const cols = Array.from(all.colIndex.subarray(all.rowPtr[r], all.rowPtr[r + 1]));
      expect(cols).toEqual([...cols].sort((a, b) => a - b));
    }
    // Leaving track 1 out (row -1) drops its pairs; track 3 moves to row 0.
    expect(dense(cooccurrenceMatrix(c, Int32Array.from([1, -1, 2, 0, -1]), 3))).toEqual([
      [0, 0, 0],
      [0, 0, 2],
      [0, 2, 0],
    ]);
  });

  it("builds the same matrix as a dense count of the pairs when rows arrive out of order (many pairs, random histories)", () => {
    const rng = new Rng(11);
    const tracks = 60;
    const c = new CooccurrenceCounts(tracks, 3, 16);
    const reference = Array.from({ length: tracks }, () => new Array<number>(tracks).fill(0));
    for (let u = 0; u < 200; u++) {
      const h = Array.from({ length: 2 + rng.int(20) }, () => rng.int(tracks));
      c.addHistory(h);
      for (let p = 0; p < h.length; p++)
        for (let d = 1; d <= 3 && d <= p; d++)
          if (h[p] !== h[p - d]) {
            reference[h[p]][h[p - d]]++;
            reference[h[p - d]][h[p]]++;
          }
    }
    // Every other track left out, the rest renumbered backwards: rows and columns both permuted.
    const row = Int32Array.from({ length: tracks }, (_, t) => (t % 2 ? -1 : tracks / 2 - 1 - t / 2));
    const m = cooccurrenceMatrix(c, row, tracks / 2);
    const expected = Array.from({ length: tracks / 2 }, () => new Array<number>(tracks / 2).fill(0));
    for (let a = 0; a < tracks; a++) for (let b = 0; b < tracks; b++) if (row[a] >= 0 && row[b] >= 0) expected[row[a]][row[b]] = reference[a][b];
    expect(dense(m)).toEqual(expected);
    for (let r = 0; r < m.rows; r++)
      for (let k = m.rowPtr[r] + 1; k < m.rowPtr[r + 1]; k++) expect(m.colIndex[k]).toBeGreaterThan(m.colIndex[k - 1]);
    expect(m.values.every((v) => v > 0)).toBe(true);
  });

  it("weights by PPMI with context-distribution smoothing, dropping non-positive entries", () => {
    const counts = cooccurrenceMatrix(handMade(), Int32Array.from([0, 1, 2, 3, -1]), 4);
    // Row sums c = [4, 5, 3, 2]. alpha 1: PMI(i, j) = log(C(i,j) * 14 / (c_i c_j)); {1,2}: log(14/15) < 0 is dropped.
    const plain = dense(ppmi(counts, 1));
    const expected1 = [
      [0, Math.log(28 / 20), Math.log(28 / 12), 0],
      [Math.log(28 / 20), 0, 0, Math.log(28 / 10)],
      [Math.log(28 / 12), 0, 0, 0],
      [0, Math.log(28 / 10), 0, 0],
    ];
    plain.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(expected1[i][j], 12)));
    // alpha 0.75 (computed by hand): rare contexts gain, so {2 -> 1} becomes positive and the matrix is no longer symmetric.
    const smoothed = dense(ppmi(counts, 0.75));
    const expected = [
      [0, 0.415614, 0.798733, 0],
      [0.359828, 0, 0, 0.879689],
      [0.870654, 0.010149, 0, 0],
      [0, 1.108761, 0, 0],
    ];
    smoothed.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(expected[i][j], 5)));
  });
});

describe("randomized truncated SVD", () => {
  /** A dense m x n matrix of exact rank s.length with singular values s: X diag(s) Y^T, X and Y random orthonormal. */
  function lowRank(m: number, n: number, s: number[], seed: number): number[][] {
    const rng = new Rng(seed);
    const x = orthonormalize(
      Float64Array.from({ length: m * s.length }, () => rng.normal()),
      m,
      s.length,
    ).q;
    const y = orthonormalize(
      Float64Array.from({ length: n * s.length }, () => rng.normal()),
      n,
      s.length,
    ).q;
    return Array.from({ length: m }, (_, i) =>
      Array.from({ length: n }, (_, j) => s.reduce((acc, sk, k) => acc + sk * x[i * s.length + k] * y[j * s.length + k], 0)),
    );
  }

  it("recovers a rank-4 matrix: singular values, orthonormal factors, reconstruction", () => {
    const s = [9, 5, 2, 0.5];
    const a = lowRank(60, 40, s, 3);
    const svd = randomizedSvd(csrOf(a), 4, { seed: 7 });
    Array.from(svd.s).forEach((v, k) => expect(v).toBeCloseTo(s[k], 10));
    let worst = 0;
    for (let i = 0; i < 60; i++)
      for (let j = 0; j < 40; j++) {
        let v = 0;
        for (let k = 0; k < 4; k++) v += svd.u[i * 4 + k] * svd.s[k] * svd.v[j * 4 + k];
        worst = Math.max(worst, Math.abs(v - a[i][j]));
      }
    expect(worst).toBeLessThan(1e-10);
    for (let p = 0; p < 4; p++)
      for (let q = 0; q < 4; q++) {
        let d = 0;
        for (let i = 0; i < 60; i++) d += svd.u[i * 4 + p] * svd.u[i * 4 + q];
        expect(d).toBeCloseTo(p === q ? 1 : 0, 10);
      }
  });

  it("converges to a dense SVD's leading singular values with power iterations on a sparse full-rank matrix; deterministic for a seed", () => {
    // A slowly decaying spectrum (6.72, 5.63, 5.59, 5.17, ...): the hard case, where power iterations matter.
    const rng = new Rng(11);
    const a = Array.from({ length: 80 }, (_, i) =>
      Array.from({ length: 80 }, (_, j) => (rng.float() < 0.1 ? (rng.float() * 4) / (1 + Math.abs(i - j) / 8) : 0)),
    );
    const exact = new SingularValueDecomposition(new Matrix(a)).diagonal;
    const error = (q: number) => {
      const svd = randomizedSvd(csrOf(a), 6, { seed: 1, powerIterations: q });
      return Math.max(...Array.from(svd.s, (v, k) => Math.abs(v - exact[k]) / exact[k]));
    };
    const errors = [0, 2, 8, 16].map(error);
    console.log(
      `randomized SVD, rank 6 of 80 x 80: relative error of the singular values at q = 0, 2, 8, 16: ${errors.map((e) => e.toExponential(1)).join(", ")}`,
    );
    for (let i = 1; i < errors.length; i++) expect(errors[i]).toBeLessThan(errors[i - 1] / 3);
    expect(errors[1]).toBeLessThan(0.05);
    expect(errors[3]).toBeLessThan(1e-8);
    const once = randomizedSvd(csrOf(a), 6, { seed: 1 });
    expect(Array.from(randomizedSvd(csrOf(a), 6, { seed: 1 }).u)).toEqual(Array.from(once.u));
    expect(Array.from(randomizedSvd(csrOf(a), 6, { seed: 2 }).u)).not.toEqual(Array.from(once.u));
  });

  it("refuses a rank larger than the matrix", () => {
    expect(() => randomizedSvd(csrOf([[1, 2]]), 2)).toThrow("rank 2 exceeds the matrix's 1 x 2 shape");
  });
});

describe("learnTrackEmbeddings", () => {
  it("on a small demo world, tracks' nearest neighbours share their genre far above chance", () => {
    const world = smallWorld({ users: 80, tracks: 200, days: 10, seed: 4 });
    const counts = new CooccurrenceCounts(world.tracks.length, 5);
    for (const h of worldHistories(world)) counts.addHistory(h.trackIndex);
    const learnt = learnTrackEmbeddings(counts, { dim: 16, seed: 3 });
    expect(learnt.embeddings.length).toBe(200 * 16);
    const g = neighbourAgreement(
      learnt.embeddings,
      16,
      world.tracks.map((t) => [t.genre]),
    );
    console.log(
      `co-occurrence embeddings (80 users, 200 tracks): neighbours sharing a genre ${g.neighbours.toFixed(3)}, chance ${g.chance.toFixed(3)}`,
    );
    expect(g.neighbours).toBeGreaterThan(0.8);
    expect(g.chance).toBeLessThan(0.2);
    // Same seed, same vectors.
    expect(learnTrackEmbeddings(counts, { dim: 16, seed: 3 }).embeddings).toEqual(learnt.embeddings);
  });

  it("folds rare tracks in as the count-weighted mean of their factorised neighbours; unplayed tracks get zeros", () => {
    // Tracks 0-5 are played often in two groups; track 6 is played once, between 0 and 1; track 7 never.
    const counts = new CooccurrenceCounts(8, 1);
    for (let u = 0; u < 20; u++) {
      counts.addHistory([0, 1, 2, 0, 2, 1]);
      counts.addHistory([3, 4, 5, 3, 5, 4]);
    }
    counts.addHistory([0, 6, 1]);
    const learnt = learnTrackEmbeddings(counts, { dim: 2, minCount: 2, normalize: false });
    expect([learnt.factorised, learnt.foldedIn]).toEqual([6, 1]);
    expect(Array.from(learnt.hasVector)).toEqual([1, 1, 1, 1, 1, 1, 1, 0]);
    expect(learnt.withoutVector).toEqual({ total: 1, unplayed: 1, noCooccurrence: 0, onlyRareNeighbours: 0, degenerate: 0 });
    const e = (t: number) => Array.from(learnt.embeddings.subarray(t * 2, t * 2 + 2));
    e(6).forEach((v, k) => expect(v).toBeCloseTo((e(0)[k] + e(1)[k]) / 2, 6));
    expect(e(7)).toEqual([0, 0]);
    // Normalised: every non-zero row has length 1.
    const unit = learnTrackEmbeddings(counts, { dim: 2, minCount: 2 });
    for (let t = 0; t < 7; t++) expect(Math.hypot(...unit.embeddings.subarray(t * 2, t * 2 + 2))).toBeCloseTo(1, 6);
  });

  it("leaves tracks it cannot place without a vector, and says why", () => {
    const counts = new CooccurrenceCounts(12, 1);
    for (let u = 0; u < 20; u++) {
      counts.addHistory([0, 1, 2, 0, 2, 1]);
      counts.addHistory([3, 4, 5, 3, 5, 4]);
    }
    counts.addHistory([0, 6, 1]); // 6: played once, next to factorised tracks: folded in
    counts.addHistory([8]); // alone
    counts.addHistory([11, 11]); // only next to itself
    counts.addHistory([9, 10]); // once each, only next to each other: both below --min-count 2
    // 7: never played
    const learnt = learnTrackEmbeddings(counts, { dim: 2, minCount: 2 });
    expect(Array.from(learnt.hasVector)).toEqual([1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
    expect(learnt.withoutVector).toEqual({ total: 5, unplayed: 1, noCooccurrence: 2, onlyRareNeighbours: 2, degenerate: 0 });
    for (const t of [7, 8, 9, 10, 11]) expect(Array.from(learnt.embeddings.subarray(t * 2, t * 2 + 2))).toEqual([0, 0]);
    // Factorised with min-count 1, 9 and 10 are placed by each other.
    expect(learnTrackEmbeddings(counts, { dim: 2 }).withoutVector).toMatchObject({ total: 3, onlyRareNeighbours: 0 });
  });

  it("releaseCounts: the same vectors, with the pair table dropped once the matrix is built (plays and counts stay readable)", () => {
    const world = smallWorld({ users: 60, tracks: 150, days: 10, seed: 5 });
    const count = () => {
      const counts = new CooccurrenceCounts(world.tracks.length, 5);
      for (const h of worldHistories(world)) counts.addHistory(h.trackIndex);
      return counts;
    };
    for (const minCount of [1, 3]) {
      const kept = count();
      const released = count();
      const a = learnTrackEmbeddings(kept, { dim: 8, minCount });
      const b = learnTrackEmbeddings(released, { dim: 8, minCount, releaseCounts: true });
      expect(b.embeddings).toEqual(a.embeddings);
      expect([b.foldedIn, b.withoutVector, b.pairs, b.nonzeros]).toEqual([a.foldedIn, a.withoutVector, a.pairs, a.nonzeros]);
      expect([kept.released, released.released]).toEqual([false, true]);
      expect([released.pairs, released.totalPlays, released.plays]).toEqual([kept.pairs, kept.totalPlays, kept.plays]);
      expect(() => released.addHistory([0, 1])).toThrow("the pair table was released");
      expect(() => released.forEachPair(() => undefined)).toThrow("the pair table was released");
    }
  });

  it("says when too few tracks are played for the dimension", () => {
    expect(() => learnTrackEmbeddings(handMade(), { dim: 8 })).toThrow(
      "only 4 of 5 tracks have at least 1 play(s); a 8-d embedding needs at least 8",
    );
  });
});

describe("sessions", () => {
  it("co-occurrence windows stop at session boundaries", () => {
    const within = new CooccurrenceCounts(4, 2);
    within.addHistory([0, 1, 2, 3], [1, 0, 1, 0]);
    const across = new CooccurrenceCounts(4, 2);
    across.addHistory([0, 1, 2, 3]);
    const pairs = (c: CooccurrenceCounts) => {
      const out: string[] = [];
      c.forEachPair((i, j) => out.push(`${i}-${j}`));
      return out.sort();
    };
    expect(pairs(within)).toEqual(["0-1", "2-3"]);
    expect(pairs(across)).toEqual(["0-1", "0-2", "1-2", "1-3", "2-3"]);
    expect(() => within.addHistory([0, 1], [1])).toThrow("has 2 plays but 1 session marks");
  });

  it("a new session starts where the context changes, or, without one, after a gap of more than 30 minutes", () => {
    const min = 60_000;
    const at = [0, 10, 50, 55, 60, 660, 700].map((m) => m * min);
    const context = [null, null, null, "a", "b", "b", null];
    // 10 min: same; 40 min: new; null then "a", 5 min: same; "a" then "b": new; "b" again after 10 h: same; "b" then none, 40 min: new.
    expect(Array.from(sessionStarts(at, context))).toEqual([1, 0, 1, 0, 1, 0, 1]);
    expect(Array.from(sessionStarts(at, null))).toEqual([1, 0, 1, 0, 0, 1, 1]);
    expect(Array.from(sessionStarts(at, null, 45 * min))).toEqual([1, 0, 0, 0, 0, 1, 0]);
  });
});

describe("neighbourAgreement", () => {
  it("scores neighbours and exact chance over genre sets", () => {
    // Two tight clusters on orthogonal axes; track 4 has no genre (a candidate, never a query); track 5 has no vector.
    const emb = Float32Array.from([1, 0, 0.9, 0.1, 0, 1, 0.1, 0.9, 0.7, 0.7, 0, 0]);
    const genres = [["rock"], ["rock", "pop"], ["jazz"], ["jazz", "pop"], [], ["rock"]];
    const g = neighbourAgreement(emb, 2, genres, { k: 1 });
    expect(g.queries).toBe(4);
    expect(g.neighbours).toBe(1);
    // Candidates 0-4. Others sharing a genre, of 4: track 0 -> {1}; 1 -> {0, 3}; 2 -> {3}; 3 -> {1, 2}.
    expect(g.chance).toBeCloseTo((1 / 4 + 2 / 4 + 1 / 4 + 2 / 4) / 4, 12);
    expect(neighbourAgreement(emb, 2, genres, { k: 1, eligible: (t) => t < 2 }).queries).toBe(2);
  });

  it("by L2, a vector's length counts: a long vector in the same direction is far", () => {
    // Track 0's direction is shared by the long track 1 (its artist); the short track 2 points elsewhere but is nearer.
    const emb = Float32Array.from([1, 0, 10, 0, 0.6, 0.8]);
    const artists = [["a"], ["a"], ["b"]];
    const byCosine = neighbourAgreement(emb, 2, artists, { k: 1, eligible: (t) => t === 0 });
    const byL2 = neighbourAgreement(emb, 2, artists, { k: 1, eligible: (t) => t === 0, metric: "l2" });
    expect([byCosine.neighbours, byL2.neighbours]).toEqual([1, 0]);
    expect(byL2.chance).toBe(0.5);
  });
});
