import { buildDataset, datasetBytes, datasetBytesPerPlay, featuresForServing, pointTime, type Dataset } from "../../src/features";
import { generateWorld } from "../../src/demo/world";
import { smallWorld, specWith, worldCatalogue, worldHistories, worldHistory } from "./world";
import { materialise, type Materialised } from "./materialise";

describe("buildDataset over a generated world", () => {
  const world = smallWorld();
  // A few tracks without embeddings: their points are skipped, their plays still count.
  const catalogue = worldCatalogue(world, new Set([0, 1, 2, 3, 4]));
  const rowOf = new Map(world.tracks.map((t, i) => [t.externalId, i]));

  const variants = {
    default: specWith(),
    everything: specWith({
      fast: { window: 4, per_play: ["track_embedding", "skipped", "liked", "daypart", "restarted", "added_to_playlist"], shuffle: true },
      slow: { transform: "standardize", daypart_shares: true },
    }),
    noFast: specWith({ fast: { enabled: false } }),
    noSlow: specWith({ slow: { enabled: false } }),
  };

  function expectRowEqualsServing(ds: Dataset, m: Materialised, spec: (typeof variants)[keyof typeof variants], r: number) {
    const u = ds.userIndex[r];
    const h = worldHistory(
      world,
      world.users.findIndex((x) => x.externalId === ds.users.externalIds[u]),
      rowOf,
    );
    const f = featuresForServing(h, catalogue, spec, ds.stats, m.time[r])!;
    const fw = ds.window * ds.fastStep;
    expect(f.fast).toEqual(m.fast.subarray(r * fw, (r + 1) * fw));
    expect(f.mask).toEqual(m.mask.subarray(r * ds.window, (r + 1) * ds.window));
    expect(f.slow).toEqual(ds.slow.subarray(r * ds.slowDim, (r + 1) * ds.slowDim));
  }

  it.each(Object.keys(variants) as (keyof typeof variants)[])("serving features equal the dataset row (%s)", async (name) => {
    const spec = variants[name];
    const ds = await buildDataset(worldHistories(world), catalogue, spec);
    expect(ds.counts.targetWithoutEmbedding).toBeGreaterThan(0);
    expect(ds.n + ds.counts.targetWithoutEmbedding + ds.counts.users).toBe(ds.counts.events);
    const m = materialise(ds);
    expect(m.fast.length).toBe(ds.n * ds.window * ds.fastStep);
    expect(ds.slow.length).toBe(ds.n * ds.slowDim);
    // Rows whose time is unique within the user (serving picks the last play at or before asOf).
    const rows = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 50, 100, ds.n - 2, ds.n - 1];
    for (let r = 0; r < ds.n; r += 97) rows.push(r);
    for (const r of rows) {
      const u = ds.userIndex[r];
      const p = ds.position[r];
      const next = ds.plays.trackIndex[ds.plays.userStart[u] + p + 1];
      expect(next).toBe(ds.targetIndex[r]);
      if (m.time[r + 1] === m.time[r] && ds.userIndex[r + 1] === u) continue;
      expectRowEqualsServing(ds, m, spec, r);
    }
  });

  it("split by user assigns whole users, deterministically by seed, near the fractions", async () => {
    const spec = specWith({ split: { by: "user" } });
    const a = await buildDataset(worldHistories(world), catalogue, spec);
    const b = await buildDataset(worldHistories(world), catalogue, spec);
    const c = await buildDataset(worldHistories(world), catalogue, specWith({ split: { by: "user" }, seed: 8 }));
    expect(a.split).toEqual(b.split);
    expect(a.split).not.toEqual(c.split);
    const perUser = new Map<number, Set<number>>();
    for (let r = 0; r < a.n; r++) perUser.set(a.userIndex[r], (perUser.get(a.userIndex[r]) ?? new Set()).add(a.split[r]));
    for (const s of perUser.values()) expect(s.size).toBe(1);
    const big = generateWorld({ users: 2000, tracks: 50, days: 1, seed: 1, dim: 2, playsPerDay: 2 });
    const ds = await buildDataset(worldHistories(big), worldCatalogue(big), spec);
    const users = [0, 0, 0];
    const seen = new Set<number>();
    for (let r = 0; r < ds.n; r++) if (!seen.has(ds.userIndex[r]) && seen.add(ds.userIndex[r])) users[ds.split[r]]++;
    const total = seen.size;
    expect(users[0] / total).toBeCloseTo(0.7, 1);
    expect(users[1] / total).toBeCloseTo(0.2, 1);
    expect(users[2] / total).toBeCloseTo(0.1, 1);
  });

  it("split by time keeps every user's test rows after their train rows", async () => {
    const ds = await buildDataset(worldHistories(world), catalogue, specWith());
    for (let r = 1; r < ds.n; r++)
      if (ds.userIndex[r] === ds.userIndex[r - 1]) {
        expect(ds.split[r]).toBeGreaterThanOrEqual(ds.split[r - 1]);
        expect(pointTime(ds, r)).toBeGreaterThanOrEqual(pointTime(ds, r - 1));
      }
    expect(ds.rows.train.length / ds.n).toBeCloseTo(0.7, 1);
    expect(ds.rows.test.length / ds.n).toBeCloseTo(0.1, 1);
  });

  it("~300k plays: shape, time and memory (tens of bytes per play, not a materialised x_s)", async () => {
    const big = generateWorld({ users: 2000, tracks: 2000, days: 28, seed: 1 });
    const spec = specWith();
    const started = performance.now();
    const ds = await buildDataset(worldHistories(big), worldCatalogue(big), spec);
    const ms = performance.now() - started;
    const perPlay = datasetBytes(ds) / ds.counts.events;
    const bound = datasetBytesPerPlay(ds.slowDim);
    const materialisedPerPlay = (4 * (ds.window * ds.fastStep + ds.window + ds.slowDim + ds.dim) * ds.n) / ds.counts.events;
    console.log(
      `buildDataset: ${ds.counts.events} plays, ${ds.counts.users} users -> ${ds.n} rows in ${ms.toFixed(0)} ms; ` +
        `${perPlay.toFixed(1)} bytes per play (bound ${bound} + 1/8 growth slack; ` +
        `x_s, mask, x_n and y materialised would take ${materialisedPerPlay.toFixed(0)})`,
    );
    expect(ds.counts.events).toBeGreaterThan(250_000);
    expect(ds.n).toBe(ds.counts.events - ds.counts.users);
    expect([ds.window, ds.fastStep, ds.slowDim, ds.dim]).toEqual([5, 85, 6, 80]);
    expect(ds.rows.train.length + ds.rows.validation.length + ds.rows.test.length).toBe(ds.n);
    expect(perPlay).toBeLessThanOrEqual(bound * 1.125);
    // With an exact capacity (countEvents) the columns are allocated once and hold no slack: the bound plus 8 bytes a user.
    const exact = await buildDataset(worldHistories(big), worldCatalogue(big), spec, { capacity: ds.counts.events });
    expect(datasetBytes(exact)).toBeLessThanOrEqual(bound * ds.counts.events + 8 * ds.counts.users);
  });
});
