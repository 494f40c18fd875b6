import { Serving, NO_MODEL_YET, type PlayInput } from "../../src/serving";
import { getEventStats } from "../../src/store/catalog";
import { loadDemoWorld } from "../../src/data/demo-data";
import type { Store } from "../../src/store/store";
import { backendName, openTestStore } from "../helpers/store";
import { failure } from "./helpers";

describe(`recordPlays (${backendName})`, () => {
  let store: Store;
  let serving: Serving;
  let tracks: string[];

  beforeAll(async () => {
    store = await openTestStore();
    await loadDemoWorld(store, { users: 5, tracks: 40, days: 2, seed: 3 });
    serving = new Serving(store);
    tracks = (await store.sql.query<{ external_id: string }>(`SELECT external_id FROM track ORDER BY id`)).map((r) => r.external_id);
  });
  afterAll(async () => {
    await serving?.close();
    await store?.close();
  });

  const count = async (where = "true", params: unknown[] = []) =>
    (await store.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM listening_event e WHERE ${where}`, params))[0].n;
  const userCount = async () => (await store.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM app_user`))[0].n;

  it("appends plays, creates users on first sight, keeps the /health counters in step", async () => {
    const stats = await getEventStats(store.sql);
    const users = await userCount();
    const plays: PlayInput[] = [
      { userId: "new-listener", trackId: tracks[0], playedAt: "2026-11-01T10:00:00Z", liked: true },
      { userId: "new-listener", trackId: tracks[1], playedAt: new Date("2026-11-01T10:03:00Z"), skipped: true, restarted: null },
      { userId: " another ", trackId: tracks[2], playedAt: "2026-09-01T08:00:00.123Z", addedToPlaylist: true },
    ];
    expect(await serving.recordPlays(plays)).toEqual({ recorded: 3, duplicates: 0, usersCreated: 2 });
    expect(await userCount()).toBe(users + 2);
    const rows = await store.sql.query<{
      user: string;
      track: string;
      played_at: Date;
      skipped: boolean;
      liked: boolean;
      added: boolean;
      restarted: boolean;
    }>(
      `SELECT u.external_id AS user, t.external_id AS track, e.played_at, e.skipped, e.liked, e.added_to_playlist AS added, e.restarted
         FROM listening_event e JOIN app_user u ON u.id = e.user_id JOIN track t ON t.id = e.track_id
        WHERE u.external_id IN ('new-listener', 'another') ORDER BY e.played_at`,
    );
    expect(rows.map((r) => ({ ...r, played_at: new Date(r.played_at).toISOString() }))).toEqual([
      {
        user: "another",
        track: tracks[2],
        played_at: "2026-09-01T08:00:00.123Z",
        skipped: false,
        liked: false,
        added: true,
        restarted: false,
      },
      {
        user: "new-listener",
        track: tracks[0],
        played_at: "2026-11-01T10:00:00.000Z",
        skipped: false,
        liked: true,
        added: false,
        restarted: false,
      },
      {
        user: "new-listener",
        track: tracks[1],
        played_at: "2026-11-01T10:03:00.000Z",
        skipped: true,
        liked: false,
        added: false,
        restarted: false,
      },
    ]);
    const after = await getEventStats(store.sql);
    expect(after.count).toBe(stats.count + 3);
    expect(after.count).toBe(await count());
    expect(after.last).toEqual(new Date("2026-11-01T10:03:00Z"));
    expect(stats.first!.getTime()).toBeGreaterThan(Date.parse("2026-09-02T00:00:00Z"));
    expect(after.first).toEqual(new Date("2026-09-01T08:00:00.123Z"));
  });

  it("does not write a replayed play twice (same user, time and track), nor a repeat within a batch", async () => {
    const stats = await getEventStats(store.sql);
    const play = { userId: "new-listener", trackId: tracks[0], playedAt: "2026-11-01T10:00:00Z" };
    expect(await serving.recordPlays([play])).toEqual({ recorded: 0, duplicates: 1, usersCreated: 0 });
    const fresh = { userId: "new-listener", trackId: tracks[5], playedAt: "2026-11-02T10:00:00Z" };
    expect(await serving.recordPlays([fresh, play, fresh])).toEqual({ recorded: 1, duplicates: 2, usersCreated: 0 });
    // the same time with another track is another play
    expect(await serving.recordPlays([{ ...fresh, trackId: tracks[6] }])).toEqual({ recorded: 1, duplicates: 0, usersCreated: 0 });
    expect((await getEventStats(store.sql)).count).toBe(stats.count + 2);
    expect(await count()).toBe(stats.count + 2);
  });

  it("rejects the whole batch when one play is bad, naming its index and why; nothing is written", async () => {
    const stats = await getEventStats(store.sql);
    const users = await userCount();
    const good = (i: number): PlayInput => ({ userId: `batch-user-${i}`, trackId: tracks[i], playedAt: `2026-11-03T0${i}:00:00Z` });
    const err = await failure(serving.recordPlays([good(0), good(1), { ...good(2), trackId: "nope" }, good(3)]));
    expect(err).toMatchObject({
      code: "BAD_USER_INPUT",
      message: 'play 2: trackId: unknown track "nope"; import it first (rubato import tracks); nothing was written',
      details: { index: 2, field: "trackId", reason: expect.stringContaining('unknown track "nope"') },
    });
    expect(await userCount()).toBe(users);
    expect(await getEventStats(store.sql)).toEqual(stats);
    expect(await count()).toBe(stats.count);
  });

  it.each<[string, Partial<PlayInput> | null, string, RegExp]>([
    ["a missing user", { userId: "" }, "userId", /missing/],
    ["a user id that is not a string", { userId: 42 as unknown as string }, "userId", /expected a non-empty string id, got 42/],
    ["a missing track", { trackId: undefined }, "trackId", /missing/],
    ["an unparsable time", { playedAt: "yesterday" }, "playedAt", /unparsable timestamp "yesterday"/],
    ["an invalid date", { playedAt: new Date("nope") }, "playedAt", /invalid date/],
    ["a time far in the future", { playedAt: new Date(Date.now() + 3 * 86_400_000) }, "playedAt", /in the future/],
    ["a flag that is not a boolean", { liked: "yes" as unknown as boolean }, "liked", /expected true, false or null, got "yes"/],
    ["not a play at all", null, "play", /expected an object/],
  ])("rejects %s", async (_, change, field, reason) => {
    const before = await count();
    const base: PlayInput = { userId: "checker", trackId: tracks[0], playedAt: "2026-11-04T00:00:00Z" };
    const bad = (change === null ? null : { ...base, ...change }) as PlayInput;
    const err = await failure(serving.recordPlays([base, { ...base, trackId: tracks[1] }, bad]));
    expect(err.code).toBe("BAD_USER_INPUT");
    expect(err.details).toMatchObject({ index: 2, field, reason: expect.stringMatching(reason) });
    expect(err.message).toMatch(/^play 2: /);
    expect(await count()).toBe(before);
  });

  it("lists every bad play (up to 20) and accepts an empty batch", async () => {
    const err = await failure(
      serving.recordPlays([
        { userId: "", trackId: tracks[0], playedAt: "2026-11-04T00:00:00Z" },
        { userId: "x", trackId: "nope", playedAt: "never" },
      ]),
    );
    expect(err.details.errors).toEqual([
      { index: 0, field: "userId", reason: expect.any(String) },
      { index: 1, field: "playedAt", reason: expect.any(String) },
      { index: 1, field: "trackId", reason: expect.stringContaining('"nope"') },
    ]);
    expect(err.message).toMatch(/\(and 1 more bad play\); nothing was written$/);
    expect(await serving.recordPlays([])).toEqual({ recorded: 0, duplicates: 0, usersCreated: 0 });
  });

  it("before any trained model: embeddings are a CONFLICT, neighbours of a track still work", async () => {
    await expect(failure(serving.userEmbedding({ userId: "new-listener" }))).resolves.toMatchObject({
      code: "CONFLICT",
      message: NO_MODEL_YET,
    });
    await expect(failure(serving.similarTracks({ userId: "new-listener" }))).resolves.toMatchObject({ code: "CONFLICT" });
    const near = await serving.similarTracks({ trackId: tracks[0], k: 3 });
    expect(near.neighbours.length).toBe(3);
    expect(near.runId).toBeNull();
  });
});
