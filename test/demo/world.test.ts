import { worldDigest } from "../../src/demo/digest";
import { DAYPARTS } from "../../src/demo/personas";
import { Rng, streamSeed } from "../../src/random";
import { daypartOf, DEFAULT_WORLD_START, generateWorld, World, WorldEvent } from "../../src/demo/world";

const SMALL = { users: 120, tracks: 400, days: 10, seed: 42 };
const DAY_MS = 86_400_000;

function dist(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += (a[k] - b[k]) ** 2;
  return Math.sqrt(s);
}

function byUser(world: World): Map<string, WorldEvent[]> {
  const out = new Map<string, WorldEvent[]>();
  for (const e of world.events()) {
    const list = out.get(e.userExternalId);
    if (list) list.push(e);
    else out.set(e.userExternalId, [e]);
  }
  return out;
}

describe("Rng", () => {
  it("started from a stream seed draws what the (seed, streams) constructor draws", () => {
    const a = new Rng(7, 3, 1999);
    const b = Rng.fromState(streamSeed(7, 3, 1999));
    const c = Rng.fromState(streamSeed(7, 3, 2000));
    const xs = Array.from({ length: 8 }, () => a.normal());
    expect(Array.from({ length: 8 }, () => b.normal())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.normal())).not.toEqual(xs);
  });

  it("is deterministic per seed and stream, and roughly uniform / normal", () => {
    const a = new Rng(7, 1);
    const b = new Rng(7, 1);
    const c = new Rng(7, 2);
    const xs = Array.from({ length: 5 }, () => a.u32());
    expect(Array.from({ length: 5 }, () => b.u32())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.u32())).not.toEqual(xs);

    const r = new Rng(1);
    let sum = 0;
    let sq = 0;
    let u = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      sum += z;
      sq += z * z;
      u += r.float();
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.03);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.05);
    expect(Math.abs(u / n - 0.5)).toBeLessThan(0.01);
  });
});

describe("generateWorld", () => {
  const world = generateWorld(SMALL);
  const events = Array.from(world.events());
  const users = byUser(world);

  it("is deterministic for a seed and differs across seeds", () => {
    const digest = worldDigest(world);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(worldDigest(generateWorld(SMALL))).toBe(digest);
    // The stream is re-iterable: a second pass over the same world is identical.
    expect(worldDigest(world)).toBe(digest);
    expect(worldDigest(generateWorld({ ...SMALL, seed: 43 }))).not.toBe(digest);
  });

  it("has the requested catalogue and population, with well-formed ids", () => {
    expect(world.tracks).toHaveLength(400);
    expect(world.users).toHaveLength(120);
    expect(world.options).toMatchObject({ dim: 80, genres: 16, start: DEFAULT_WORLD_START });
    expect(world.tracks[0].externalId).toBe("t00001");
    expect(world.tracks[399].externalId).toBe("t00400");
    expect(world.users[0].externalId).toBe("u00001");
    expect(new Set(world.tracks.map((t) => t.externalId)).size).toBe(400);
    const malformed = world.tracks.filter(
      (t) =>
        !(t.embedding instanceof Float32Array) ||
        t.embedding.length !== 80 ||
        !t.embedding.every(Number.isFinite) ||
        t.title.length === 0 ||
        t.artist.length === 0 ||
        !(t.popularity > 0 && t.popularity <= 1) ||
        !(t.durationMs >= 60_000),
    );
    expect(malformed).toEqual([]);
    const names = new Set(world.tracks.map((t) => t.genre));
    expect(names.size).toBe(16);
    // Zipf within genre: each genre has exactly one rank-0 track (weight 1).
    for (const g of names) expect(world.tracks.filter((t) => t.genre === g && t.popularity === 1)).toHaveLength(1);
  });

  it("produces a plausible number of plays with varied activity", () => {
    // ~5.4 plays per user per day on average.
    const expected = SMALL.users * SMALL.days * 5.4;
    expect(events.length).toBeGreaterThan(expected * 0.6);
    expect(events.length).toBeLessThan(expected * 1.5);
    const counts = [...users.values()].map((l) => l.length).sort((a, b) => a - b);
    expect(users.size).toBeGreaterThan(SMALL.users * 0.9);
    expect(counts[counts.length - 1]).toBeGreaterThan(3 * counts[Math.floor(counts.length / 2)]);
  });

  it("orders plays by user then time, inside the world's time span, with known tracks", () => {
    const trackIds = new Set(world.tracks.map((t) => t.externalId));
    const start = DEFAULT_WORLD_START.getTime();
    const end = start + SMALL.days * DAY_MS;
    const problems: string[] = [];
    let prevUser = "";
    let prevTime = -Infinity;
    for (const e of events) {
      if (e.userExternalId !== prevUser) {
        // Each user appears in one contiguous run, in id order.
        if (!(e.userExternalId > prevUser)) problems.push(`user order ${prevUser} -> ${e.userExternalId}`);
        prevUser = e.userExternalId;
        prevTime = -Infinity;
      }
      const t = e.playedAt.getTime();
      if (!(t > prevTime)) problems.push(`time order for ${e.userExternalId} at ${e.playedAt.toISOString()}`);
      if (t < start || t >= end) problems.push(`out of range ${e.playedAt.toISOString()}`);
      if (!trackIds.has(e.trackExternalId)) problems.push(`unknown track ${e.trackExternalId}`);
      prevTime = t;
    }
    expect(problems.slice(0, 5)).toEqual([]);
  });

  it("has plausible behaviour rates and play lengths", () => {
    const n = events.length;
    const rate = (f: (e: WorldEvent) => boolean): number => events.filter(f).length / n;
    const skip = rate((e) => e.skipped);
    expect(skip).toBeGreaterThan(0.05);
    expect(skip).toBeLessThan(0.5);
    const like = rate((e) => e.liked);
    expect(like).toBeGreaterThan(0.01);
    expect(like).toBeLessThan(0.3);
    expect(rate((e) => e.addedToPlaylist)).toBeGreaterThan(0.005);
    expect(rate((e) => e.addedToPlaylist)).toBeLessThan(0.3);
    expect(rate((e) => e.restarted)).toBeGreaterThan(0.005);
    expect(rate((e) => e.restarted)).toBeLessThan(0.3);
    const badSkips = events.filter((e) => e.skipped && (e.msPlayed >= 30_000 || e.liked || e.addedToPlaylist || e.restarted));
    const badPlays = events.filter((e) => !e.skipped && e.msPlayed < 30_000);
    expect(badSkips).toEqual([]);
    expect(badPlays).toEqual([]);
    // A user likes (and adds) a track at most once.
    for (const list of users.values()) {
      const likedIds = list.filter((e) => e.liked).map((e) => e.trackExternalId);
      expect(new Set(likedIds).size).toBe(likedIds.length);
      const added = list.filter((e) => e.addedToPlaylist).map((e) => e.trackExternalId);
      expect(new Set(added).size).toBe(added.length);
    }
  });

  it("clusters embeddings by genre", () => {
    let same = 0;
    let nSame = 0;
    let diff = 0;
    let nDiff = 0;
    const T = world.tracks.slice(0, 200);
    for (let i = 0; i < T.length; i++) {
      for (let j = i + 1; j < T.length; j++) {
        const d = dist(T[i].embedding, T[j].embedding);
        if (T[i].genre === T[j].genre) {
          same += d;
          nSame++;
        } else {
          diff += d;
          nDiff++;
        }
      }
    }
    expect(same / nSame).toBeLessThan(0.85 * (diff / nDiff));
    // Nearly every track is nearest to its own genre's centroid.
    let hits = 0;
    for (const t of world.tracks) {
      let best = world.genres[0];
      for (const g of world.genres) if (dist(t.embedding, g.centroid) < dist(t.embedding, best.centroid)) best = g;
      if (best.name === t.genre) hits++;
    }
    expect(hits / world.tracks.length).toBeGreaterThan(0.95);
  });

  it("gives personas recognisable rhythms", () => {
    const share = (persona: string, part: string): number => {
      let hit = 0;
      let all = 0;
      for (const u of world.users.filter((x) => x.persona === persona)) {
        for (const e of users.get(u.externalId) ?? []) {
          all++;
          if (DAYPARTS[daypartOf(e.playedAt)] === part) hit++;
        }
      }
      return hit / Math.max(1, all);
    };
    expect(share("night-owl", "night")).toBeGreaterThan(share("commuter", "night") + 0.2);
    expect(share("commuter", "morning")).toBeGreaterThan(share("night-owl", "morning") + 0.2);
  });

  it("keeps users independent: a smaller population is a prefix of a larger one", () => {
    const few = generateWorld({ users: 10, tracks: 200, days: 4, seed: 3 });
    const many = generateWorld({ users: 25, tracks: 200, days: 4, seed: 3 });
    const prefix = Array.from(many.events()).filter((e) => e.userExternalId <= "u00010");
    expect(Array.from(few.events())).toEqual(prefix);
    expect(few.users).toEqual(many.users.slice(0, 10));
  });

  it("streams one user's plays identically through userEvents", () => {
    const u = world.users[3].externalId;
    expect(world.userEvents(3)).toEqual(users.get(u) ?? []);
    expect(() => world.userEvents(10_000)).toThrow(RangeError);
  });

  it("scales genres down for tiny catalogues and validates options", () => {
    const tiny = generateWorld({ users: 3, tracks: 40, days: 2, seed: 1, dim: 8 });
    expect(tiny.options.genres).toBe(4);
    expect(new Set(tiny.tracks.map((t) => t.genre)).size).toBe(4);
    expect(tiny.tracks[0].embedding).toHaveLength(8);
    expect(Array.from(tiny.events()).length).toBeGreaterThan(0);
    expect(() => generateWorld({ users: 1, tracks: 0, days: 1, seed: 1 })).toThrow(RangeError);
    expect(() => generateWorld({ users: 1.5, tracks: 10, days: 1, seed: 1 })).toThrow(/users/);
    expect(() => generateWorld({ users: 1, tracks: 3, days: 1, seed: 1, genres: 5 })).toThrow(/genre/);
    expect(() => generateWorld({ users: 1, tracks: 10, days: 1, seed: 1, start: new Date("nope") })).toThrow(/start/);
  });

  it("honours a custom start date", () => {
    const start = new Date("2025-01-01T00:00:00Z");
    const w = generateWorld({ users: 5, tracks: 100, days: 3, seed: 2, start });
    for (const e of w.events()) {
      expect(e.playedAt.getTime()).toBeGreaterThanOrEqual(start.getTime());
      expect(e.playedAt.getTime()).toBeLessThan(start.getTime() + 3 * DAY_MS);
    }
  });
});
