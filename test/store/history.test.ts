import { generateWorld } from "../../src/demo/world";
import { buildDataset, featuresForServing, markLikedTracks, addPlay, newCounts, playsToRead, targetTime, FLAG, type UserHistory } from "../../src/features";
import { countEvents, latestHistory, loadCatalogue, streamHistories } from "../../src/store/history";
import { loadEvents, type EventRow } from "../../src/store/import/events";
import { loadTracks, type TrackRow } from "../../src/store/import/tracks";
import type { Store } from "../../src/store/store";
import { backendName, openTestStore } from "../helpers/store";
import { specWith } from "../features/world";
import { materialise } from "../features/materialise";

const world = generateWorld({ users: 25, tracks: 150, days: 6, seed: 5, dim: 8 });
const NO_EMBEDDING = new Set([world.tracks[3].externalId, world.tracks[7].externalId]);

async function* once<T>(items: T[]): AsyncGenerator<T[]> {
  yield items;
}

async function collect(it: AsyncIterable<UserHistory>): Promise<UserHistory[]> {
  const out: UserHistory[] = [];
  for await (const h of it) out.push(h);
  return out;
}

/** What the store should return for one world user: (time, track, flags) sorted as the primary key orders them. */
function expected(userIndex: number, trackId: Map<string, number>, upTo = Infinity) {
  return world
    .userEvents(userIndex)
    .filter((e) => e.playedAt.getTime() <= upTo)
    .map((e) => ({
      at: e.playedAt.getTime(),
      track: e.trackExternalId,
      flags:
        (e.skipped ? FLAG.skipped : 0) |
        (e.liked ? FLAG.liked : 0) |
        (e.addedToPlaylist ? FLAG.addedToPlaylist : 0) |
        (e.restarted ? FLAG.restarted : 0),
    }))
    .sort((a, b) => a.at - b.at || (trackId.get(a.track) as number) - (trackId.get(b.track) as number));
}

describe(`store histories (${backendName})`, () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
    const tracks: TrackRow[] = world.tracks.map((t, i) => ({
      line: i + 1,
      externalId: t.externalId,
      title: null,
      artist: null,
      genre: null,
      embedding: NO_EMBEDDING.has(t.externalId) ? null : Array.from(t.embedding),
    }));
    await loadTracks(store, once(tracks));
    const events: EventRow[] = [];
    for (const e of world.events())
      events.push({
        line: events.length + 1,
        user: e.userExternalId,
        track: e.trackExternalId,
        playedAt: e.playedAt,
        skipped: e.skipped,
        liked: e.liked,
        addedToPlaylist: e.addedToPlaylist,
        restarted: e.restarted,
        msPlayed: e.msPlayed,
        context: null,
      });
    await loadEvents(store, once(events));
  });
  afterAll(() => store.close());

  it("loads the catalogue ordered by track id, with zeros and a 0 flag where there is no embedding", async () => {
    const cat = await loadCatalogue(store, 40);
    expect(cat.externalIds.length).toBe(150);
    expect(cat.dim).toBe(8);
    expect(Array.from(cat.trackIds)).toEqual([...cat.trackIds].sort((a, b) => a - b));
    const byId = new Map(world.tracks.map((t) => [t.externalId, t]));
    cat.externalIds.forEach((id, i) => {
      const has = !NO_EMBEDDING.has(id);
      expect(cat.hasEmbedding[i]).toBe(has ? 1 : 0);
      expect(Array.from(cat.embeddings.subarray(i * 8, i * 8 + 8))).toEqual(
        has ? Array.from(byId.get(id)!.embedding) : new Array(8).fill(0),
      );
    });
  });

  it("streams every user once, in user-id order, across small batches, equal to the source events", async () => {
    const cat = await loadCatalogue(store);
    const trackId = new Map(cat.externalIds.map((id, i) => [id, cat.trackIds[i]]));
    const small = await collect(streamHistories(store, { batchSize: 37, catalogue: cat }));
    const big = await collect(streamHistories(store, { catalogue: cat }));
    expect(small).toEqual(big);
    expect(small.length).toBe(world.users.filter((_, u) => world.userEvents(u).length > 0).length);
    expect(small.map((h) => h.userId)).toEqual(small.map((h) => h.userId).sort((a, b) => a - b));
    const total = small.reduce((a, h) => a + h.playedAt.length, 0);
    expect(total).toBe(await countEvents(store));
    expect(total).toBeGreaterThan(37 * 10);
    for (const h of small) {
      const u = world.users.findIndex((x) => x.externalId === h.userExternalId);
      const got = Array.from(h.playedAt, (at, i) => ({ at, track: cat.externalIds[h.trackIndex[i]], flags: h.flags[i] }));
      expect(got).toEqual(expected(u, trackId));
    }
  });

  it("honours the cut-off (inclusive) and a user filter", async () => {
    const cat = await loadCatalogue(store);
    const trackId = new Map(cat.externalIds.map((id, i) => [id, cat.trackIds[i]]));
    const all = await collect(streamHistories(store, { catalogue: cat }));
    const upTo = new Date(all[0].playedAt[10]);
    const cut = await collect(streamHistories(store, { upTo, batchSize: 50, catalogue: cat }));
    for (const h of cut) {
      const u = world.users.findIndex((x) => x.externalId === h.userExternalId);
      expect(Array.from(h.playedAt)).toEqual(expected(u, trackId, upTo.getTime()).map((e) => e.at));
    }
    expect(cut[0].playedAt.length).toBe(11);
    expect(cut.reduce((a, h) => a + h.playedAt.length, 0)).toBe(await countEvents(store, { upTo }));
    const ids = [all[3].userId, all[1].userId];
    const some = await collect(streamHistories(store, { userIds: ids, batchSize: 20, catalogue: cat }));
    expect(some).toEqual([all[1], all[3]]);
  });

  it("reads each page, with a cut-off too, as an ordered walk of the primary key: never a sort of every remaining play", async () => {
    const cat = await loadCatalogue(store);
    const plans: string[] = [];
    // Every page's statement, explained in its own transaction (where its settings hold) just before it runs.
    const explaining: Store = {
      ...store,
      transaction: (fn) =>
        store.transaction((tx) =>
          fn({
            ...tx,
            async query<T>(text: string, params?: unknown[]) {
              if (/FROM listening_event e/.test(text))
                plans.push((await tx.query<{ "QUERY PLAN": string }>(`EXPLAIN ${text}`, params)).map((r) => r["QUERY PLAN"]).join("\n"));
              return tx.query<T>(text, params);
            },
          }),
        ),
    };
    const all = await collect(streamHistories(store, { catalogue: cat }));
    const upTo = new Date(all[2].playedAt[5]);
    // Pages of 100 of about 1,000 plays: near what the planner guesses a cut-off keeps, where it sorted every remaining row.
    const cut = await collect(streamHistories(explaining, { upTo, batchSize: 100, catalogue: cat }));
    expect(cut).toEqual(await collect(streamHistories(store, { upTo, catalogue: cat })));
    expect(plans.length).toBeGreaterThan(2);
    for (const plan of plans) {
      expect(plan).toMatch(/Index (Only )?Scan using listening_event_pkey/);
      expect(plan).not.toMatch(/Sort|Bitmap|Seq Scan/);
    }
  });

  it("latestHistory + one aggregate query give the same features as the training path", async () => {
    const cat = await loadCatalogue(store);
    const spec = specWith({
      fast: { window: 4, per_play: ["track_embedding", "skipped", "liked", "daypart", "restarted", "added_to_playlist"], shuffle: true },
      slow: { transform: "standardize", daypart_shares: true },
    });
    const histories = await collect(streamHistories(store, { catalogue: cat }));
    const ds = await buildDataset(streamHistories(store, { batchSize: 64, catalogue: cat }), cat, spec);
    expect(ds.counts.targetWithoutEmbedding).toBeGreaterThan(0);
    const fw = ds.window * ds.fastStep;
    const m = materialise(ds);
    let checked = 0;
    for (let r = 0; r < ds.n; r += 23) {
      if (ds.userIndex[r + 1] === ds.userIndex[r] && m.time[r + 1] === m.time[r]) continue;
      const serving = (await latestHistory(store, ds.users.ids[ds.userIndex[r]], 4, new Date(m.time[r]), cat))!;
      // The SQL counts equal the counts accumulated play by play.
      const full = histories[ds.userIndex[r]];
      const h = { ...full, flags: full.flags.slice() };
      markLikedTracks(h);
      const counts = newCounts();
      for (let i = 0; i <= ds.position[r]; i++) addPlay(counts, h, i);
      expect(serving.counts).toEqual(counts);
      const f = featuresForServing(serving, cat, spec, ds.stats)!;
      expect(f.fast).toEqual(m.fast.subarray(r * fw, (r + 1) * fw));
      expect(f.mask).toEqual(m.mask.subarray(r * 4, (r + 1) * 4));
      expect(f.slow).toEqual(ds.slow.subarray(r * ds.slowDim, (r + 1) * ds.slowDim));
      checked++;
    }
    expect(checked).toBeGreaterThan(20);
  });

  it("the time features from latestHistory (playsToRead plays, asOf = the next play's time) equal the training path's", async () => {
    const cat = await loadCatalogue(store);
    const spec = specWith({
      fast: { window: 3, per_play: ["track_embedding", "time_since_last", "skipped"] },
      slow: { aggregates: ["plays", "hours_since_last"] },
    });
    const ds = await buildDataset(streamHistories(store, { batchSize: 64, catalogue: cat }), cat, spec);
    const fw = ds.window * ds.fastStep;
    const m = materialise(ds);
    let checked = 0;
    for (let r = 0; r < ds.n; r += 29) {
      const next = targetTime(ds, r);
      if (next === m.time[r]) continue; // the next play at the same instant would be read as of its time
      // Read as of play i: the plays before the prediction time t = the next play's time.
      const serving = (await latestHistory(store, ds.users.ids[ds.userIndex[r]], playsToRead(spec), new Date(m.time[r]), cat))!;
      const f = featuresForServing(serving, cat, spec, ds.stats, next)!;
      expect(f.fast).toEqual(m.fast.subarray(r * fw, (r + 1) * fw));
      expect(f.slow).toEqual(ds.slow.subarray(r * ds.slowDim, (r + 1) * ds.slowDim));
      checked++;
    }
    expect(checked).toBeGreaterThan(20);
  });

  it("latestHistory by external id, without asOf, for an unknown user, and before the first play", async () => {
    const cat = await loadCatalogue(store);
    const all = await collect(streamHistories(store, { catalogue: cat }));
    const h = all[2];
    const latest = (await latestHistory(store, h.userExternalId, 5))!;
    expect(latest.history.userId).toBe(h.userId);
    expect(Array.from(latest.history.playedAt)).toEqual(Array.from(h.playedAt.subarray(-5)));
    expect(Array.from(latest.history.trackIndex)).toEqual(Array.from(h.trackIndex.subarray(-5)));
    expect(latest.counts[0]).toBe(h.playedAt.length);
    expect(await latestHistory(store, "nobody", 5)).toBeNull();
    const before = (await latestHistory(store, h.userId, 5, new Date(h.playedAt[0] - 1)))!;
    expect(before.history.playedAt.length).toBe(0);
    expect(featuresForServing(before, cat, specWith(), { transform: "log1p", mean: [], std: [] })).toBeNull();
  });
});
