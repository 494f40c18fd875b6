import {
  binCounts,
  changesAfter,
  movementAnalysis,
  movementTable,
  quantileSorted,
  sharedBins,
  summarize,
  withoutValues,
  type EmbeddingSequence,
} from "../../src/eval/movement";

const seq = (steps: number[], vectors: number[][]): EmbeddingSequence => ({
  steps,
  vectors: Float32Array.from(vectors.flat()),
  dim: vectors[0]?.length ?? 0,
});

describe("changesAfter", () => {
  // (1,0) -> (0,1) -> (0,2): a quarter turn, then a doubling along the same direction
  const turn = seq(
    [0, 1, 2],
    [
      [1, 0],
      [0, 1],
      [0, 2],
    ],
  );

  it("measures L2 and cosine change between embeddings k steps apart", () => {
    const one = changesAfter([turn], 1);
    expect(one.l2[0]).toBeCloseTo(Math.SQRT2, 6);
    expect(one.l2[1]).toBeCloseTo(1, 6);
    expect(one.cosine[0]).toBeCloseTo(1, 6); // orthogonal
    expect(one.cosine[1]).toBeCloseTo(0, 6); // same direction, longer
    const two = changesAfter([turn], 2);
    expect(two.l2).toHaveLength(1);
    expect(two.l2[0]).toBeCloseTo(Math.sqrt(5), 6);
    expect(two.cosine[0]).toBeCloseTo(1, 6);
    expect(changesAfter([turn], 3)).toEqual({ l2: [], cosine: [] });
  });

  it("pairs only steps exactly k apart across gaps, user after user, never across users", () => {
    const gappy = seq([0, 1, 3, 4], [[0], [1], [3], [7]]);
    const other = seq([5, 6], [[10], [-10]]);
    expect(changesAfter([gappy, other], 1).l2).toEqual([1, 4, 20]);
    expect(changesAfter([gappy, other], 2).l2).toEqual([2]);
    expect(changesAfter([gappy, other], 3).l2).toEqual([3, 6]);
    // opposite directions: cosine distance 2
    expect(changesAfter([other], 1).cosine[0]).toBeCloseTo(2, 6);
  });

  it("counts a change from or to the zero vector as cosine 1", () => {
    const c = changesAfter(
      [
        seq(
          [0, 1],
          [
            [0, 0],
            [3, 4],
          ],
        ),
      ],
      1,
    );
    expect(c.l2[0]).toBeCloseTo(5, 6);
    expect(c.cosine[0]).toBe(1);
  });

  it("rejects bad input with what was expected", () => {
    expect(() => changesAfter([turn], 0)).toThrow(/positive whole number of steps, got 0/);
    expect(() => changesAfter([seq([0, 2, 1], [[0], [1], [2]])], 1)).toThrow(/steps must ascend, got 2 then 1/);
    expect(() => changesAfter([{ steps: [0, 1], vectors: new Float32Array(3), dim: 2 }], 1)).toThrow(/3 values for 2 steps of dimension 2/);
  });
});

describe("summaries and histograms", () => {
  it("summarises with R's type-7 quantiles and the sample std", () => {
    const s = summarize([4, 1, 3, 2]);
    expect(s).toMatchObject({ n: 4, mean: 2.5, min: 1, median: 2.5, max: 4 });
    expect(s.p90).toBeCloseTo(3.7, 10);
    expect(s.p25).toBeCloseTo(1.75, 10);
    expect(s.std).toBeCloseTo(Math.sqrt(5 / 3), 10);
    expect(summarize([]).mean).toBeNaN();
    expect(quantileSorted([5], 0.9)).toBe(5);
  });

  it("shares linear bins from 0 when the groups are on one scale", () => {
    const h = sharedBins(
      [
        [1, 2, 3],
        [2, 4],
      ],
      4,
    );
    expect(h.scale).toBe("linear");
    expect(h.edges[0]).toBe(0);
    expect(h.edges).toHaveLength(5);
    expect(h.edges[4]).toBeCloseTo(quantileSorted([2, 4], 0.99), 10);
    // 5 is above the last edge: last bin; 0 is the first edge
    expect(binCounts([0, 1, 2, 3, 5], h)).toEqual([1, 1, 1, 2]);
  });

  it("switches to log-spaced bins when the groups differ by orders of magnitude, so both shapes show", () => {
    const small = [0.01, 0.02, 0.03];
    const large = [1, 2, 3];
    const h = sharedBins([small, large], 10);
    expect(h.scale).toBe("log");
    const ratios = h.edges.slice(1).map((e, b) => e / h.edges[b]);
    for (const r of ratios) expect(r).toBeCloseTo(ratios[0], 8);
    const a = binCounts(small, h);
    const b = binCounts(large, h);
    // each group fills the bins of its own decade, not one bin
    expect(a.filter((c) => c > 0).length).toBeGreaterThan(1);
    expect(b.filter((c) => c > 0).length).toBeGreaterThan(1);
    const lastOf = (counts: number[]) => counts.length - 1 - [...counts].reverse().findIndex((c) => c > 0);
    expect(lastOf(a)).toBeLessThan(b.findIndex((c) => c > 0));
  });
});

describe("movementAnalysis", () => {
  // "steady" moves by 1 along one axis each step; "jumpy" alternates between two orthogonal vectors
  const steady = [
    seq(
      [0, 1, 2, 3],
      [
        [1, 0],
        [2, 0],
        [3, 0],
        [4, 0],
      ],
    ),
  ];
  const jumpy = [
    seq(
      [0, 1, 2, 3],
      [
        [1, 0],
        [0, 1],
        [1, 0],
        [0, 1],
      ],
    ),
  ];
  const a = movementAnalysis({ steady, jumpy }, [1, 2], 5);

  it("gives every method's changes, summaries and counts in shared bins per lag", () => {
    expect(a.methods).toEqual(["steady", "jumpy"]);
    expect(a.users).toEqual({ steady: 1, jumpy: 1 });
    const [one, two] = a.byLag;
    expect(one.lag).toBe(1);
    expect(one.kinds.l2.methods.steady.values).toEqual([1, 1, 1]);
    expect(one.kinds.cosine.methods.steady.summary.max).toBeCloseTo(0, 6);
    expect(one.kinds.cosine.methods.jumpy.summary.mean).toBeCloseTo(1, 6);
    expect(two.kinds.l2.methods.steady.values).toEqual([2, 2]);
    expect(two.kinds.l2.methods.jumpy.summary.max).toBeCloseTo(0, 6);
    for (const l of a.byLag)
      for (const kind of ["l2", "cosine"] as const)
        for (const name of a.methods) {
          const m = l.kinds[kind].methods[name];
          expect(m.counts).toHaveLength(l.kinds[kind].edges.length - 1);
          expect(m.counts.reduce((x, y) => x + y, 0)).toBe(m.values.length);
        }
  });

  it("tabulates mean, median and p90 per lag and method, and drops raw values on request", () => {
    const rows = movementTable(a);
    expect(rows.map((r) => [r.lag, r.method, r.n])).toEqual([
      [1, "steady", 3],
      [1, "jumpy", 3],
      [2, "steady", 2],
      [2, "jumpy", 2],
    ]);
    expect(rows[1].l2.median).toBeCloseTo(Math.SQRT2, 6);
    const light = withoutValues(a);
    expect(light.byLag[0].kinds.l2.methods.steady.values).toEqual([]);
    expect(light.byLag[0].kinds.l2.methods.steady.summary).toEqual(a.byLag[0].kinds.l2.methods.steady.summary);
  });
});
