/**
 * The GraphQL API over real HTTP and a real WebSocket, on a small demo world
 * with a tiny model trained through the API itself.
 */
import { createApollo } from "../../src/api/graphql";
import { requestContext } from "../../src/api/context";
import { DEFAULT_LIMITS } from "../../src/api/limits";
import { startServer, type RunningServer } from "../../src/api/server";
import { RunWorker } from "../../src/jobs/worker";
import { loadDemoWorld } from "../../src/data/demo-data";
import { nearestTracks } from "../../src/store/nearest";
import type { Store } from "../../src/store/store";
import { openTestStore, backendName } from "../helpers/store";
import { TINY, ended, waitForRun } from "../jobs/helpers";
import { collect, gql, wsClient } from "./client";

const KEY = "test-key-123";
const USER = "u00003";

describe(`GraphQL API over HTTP and WebSocket (${backendName})`, () => {
  let store: Store;
  let server: RunningServer;
  let worker: RunWorker;
  let url: string;
  let runId: string;
  let progress: { kind: string; status: string; step: number | null; loss: number | null }[] = [];
  const q = (query: string, variables: Record<string, unknown> = {}, key?: string) => gql(url, query, variables, key);

  beforeAll(async () => {
    store = await openTestStore();
    await loadDemoWorld(store, { users: 40, tracks: 120, days: 5, seed: 4 });
    worker = new RunWorker(store, { exclusive: store.backend === "pglite", pollMs: 100, heartbeatMs: 200 });
    server = await startServer(store, { port: 0, policy: { apiKey: KEY, openQueries: true }, worker });
    worker.events.subscribe((e) => e.kind === "status" && e.status === "SUCCEEDED" && server.serving.invalidate());
    url = server.graphqlUrl;

    // Train through the API, and follow the run over a WebSocket subscription until it ends.
    const started = await q(
      `mutation($input: StartTrainingInput!) { startTraining(input: $input) { run { id status model seed queuePosition } clientMutationId } }`,
      { input: { model: "fs-vae-quick", overrides: TINY, seed: 11, clientMutationId: "first" } },
      KEY,
    );
    expect(started.errors).toBeUndefined();
    runId = started.data!.startTraining.run.id;
    expect(started.data!.startTraining).toMatchObject({
      run: { status: "QUEUED", model: "fs-vae-quick", seed: 11, queuePosition: 1 },
      clientMutationId: "first",
    });
    const client = wsClient(url);
    const watching = collect<{ data: { trainingProgress: (typeof progress)[number] } }>(
      client,
      `subscription($id: ID!) { trainingProgress(runId: $id) { kind status step loss epoch } }`,
      { id: runId },
    );
    await worker.start();
    const { results, error } = await watching;
    await client.dispose();
    expect(error).toBeUndefined();
    progress = results.map((r) => r.data.trainingProgress);
  });

  afterAll(async () => {
    await worker?.stop();
    await server?.close();
    await store?.close();
  });

  describe("training", () => {
    it("streams a run's progress over WebSocket: status, steps with losses, epochs, then SUCCEEDED", () => {
      expect(progress[0].kind).toBe("STATUS");
      expect(progress.at(-1)).toMatchObject({ kind: "STATUS", status: "SUCCEEDED" });
      const steps = progress.filter((p) => p.kind === "STEP");
      expect(steps.length).toBeGreaterThan(0);
      expect(steps.every((s) => typeof s.loss === "number" && s.loss > 0)).toBe(true);
      expect(progress.filter((p) => p.kind === "EPOCH")).toHaveLength(2);
    });

    it("returns the finished run with metrics and curves; runs pages through a connection", async () => {
      const r = await q(`query($id: ID!) { run(id: $id) { id status hasModel active metrics curves { kind epoch step } } }`, { id: runId });
      expect(r.errors).toBeUndefined();
      expect(r.data!.run).toMatchObject({ id: runId, status: "SUCCEEDED", hasModel: true });
      expect(r.data!.run.metrics.test.model.l2).toBeGreaterThan(0);
      expect(r.data!.run.curves.filter((c: { kind: string }) => c.kind === "EPOCH")).toHaveLength(2);

      const second = await q(`mutation { startTraining(input: { model: "average" }) { run { id status } } }`, {}, KEY);
      expect(second.errors).toBeUndefined();
      const secondId = second.data!.startTraining.run.id;
      const page1 = await q(`{ runs(first: 1) { edges { node { id } cursor } pageInfo { hasNextPage endCursor } } }`);
      expect(page1.data!.runs.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([secondId]);
      expect(page1.data!.runs.pageInfo.hasNextPage).toBe(true);
      const page2 = await q(`query($after: String) { runs(first: 5, after: $after) { edges { node { id } } pageInfo { hasNextPage } } }`, {
        after: page1.data!.runs.pageInfo.endCursor,
      });
      expect(page2.data!.runs.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([runId]);
      expect(page2.data!.runs.pageInfo.hasNextPage).toBe(false);
      const succeeded = await q(`{ runs(status: SUCCEEDED) { edges { node { id status } } } }`);
      expect(succeeded.data!.runs.edges.every((e: { node: { status: string } }) => e.node.status === "SUCCEEDED")).toBe(true);
      const cancelled = await q(
        `mutation($input: CancelTrainingInput!) { cancelTraining(input: $input) { run { id status } clientMutationId } }`,
        { input: { runId: secondId } },
        KEY,
      );
      expect(["CANCELLED", "RUNNING", "CONFLICT"]).toContain(
        cancelled.data?.cancelTraining?.run.status ?? cancelled.errors![0].extensions!.code,
      );
      if (cancelled.data) expect(cancelled.data.cancelTraining).toMatchObject({ run: { id: secondId }, clientMutationId: null });
    });

    it("rejects an invalid spec with SPEC_INVALID and every error's line, column, path and message", async () => {
      const spec = "extends: fs-vae-quick\nname: broken\nencoders:\n  fast:\n    unit: 8\nlatent:\n  size: -3\n";
      const r = await q(`mutation($spec: String) { startTraining(input: { spec: $spec }) { run { id } } }`, { spec }, KEY);
      expect(r.errors).toHaveLength(1);
      const ext = r.errors![0].extensions!;
      expect(ext.code).toBe("SPEC_INVALID");
      const errors = ext.errors as { line: number; column: number; path: string; message: string }[];
      expect(errors).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            line: 5,
            column: 5,
            path: "encoders.fast.unit",
            message: expect.stringContaining('did you mean "units"'),
          }),
          expect.objectContaining({ line: 7, path: "latent.size" }),
        ]),
      );
    });

    it("cancelling a finished run is a CONFLICT; an unknown run is NOT_FOUND", async () => {
      const done = await q(`mutation($id: ID!) { cancelTraining(input: { runId: $id }) { run { id } } }`, { id: runId }, KEY);
      expect(done.errors![0].extensions!.code).toBe("CONFLICT");
      const missing = await q(`{ run(id: "00000000-0000-4000-8000-000000000000") { id } }`);
      expect(missing.errors![0].extensions!.code).toBe("NOT_FOUND");
    });
  });

  describe("serving", () => {
    it("userEmbedding gives mu, sigma and the fast and slow parts under the active run", async () => {
      const r = await q(
        `query($u: ID!) { userEmbedding(userId: $u) { userId runId model asOf plays mu sigma fast { mu sigma } slow { mu sigma } } }`,
        { u: USER },
      );
      expect(r.errors).toBeUndefined();
      const e = r.data!.userEmbedding;
      expect(e).toMatchObject({ userId: USER, runId, model: "fs-vae-quick" });
      expect(e.mu).toHaveLength(8);
      expect(e.sigma).toHaveLength(8);
      expect(e.fast.mu).toHaveLength(4);
      expect(e.slow.mu).toHaveLength(4);
      expect(e.sigma.every((s: number) => s > 0)).toBe(true);
    });

    it("recordPlays appends plays and the next userEmbedding uses them, without retraining", async () => {
      const before = (await q(`query($u: ID!) { userEmbedding(userId: $u) { mu fast { mu } slow { mu } plays asOf } }`, { u: USER })).data!
        .userEmbedding;
      const tracks = (await q(`{ tracks(first: 100) { edges { node { id } } } }`)).data!.tracks.edges.map(
        (e: { node: { id: string } }) => e.node.id,
      );
      const last = new Date(before.asOf).getTime();
      const plays = [90, 91, 92, 93, 94].map((i, n) => ({
        userId: USER,
        trackId: tracks[i],
        playedAt: new Date(last + (n + 1) * 60_000).toISOString(),
        liked: n % 2 === 0,
      }));
      const recorded = await q(
        `mutation($input: RecordPlaysInput!) { recordPlays(input: $input) { recorded duplicates usersCreated clientMutationId } }`,
        { input: { plays, clientMutationId: "batch-1" } },
        KEY,
      );
      expect(recorded.errors).toBeUndefined();
      expect(recorded.data!.recordPlays).toEqual({ recorded: 5, duplicates: 0, usersCreated: 0, clientMutationId: "batch-1" });
      const again = await q(`mutation($p: [PlayInput!]!) { recordPlays(input: { plays: $p }) { recorded duplicates } }`, { p: plays }, KEY);
      expect(again.data!.recordPlays).toEqual({ recorded: 0, duplicates: 5 });

      const after = (await q(`query($u: ID!) { userEmbedding(userId: $u) { mu fast { mu } plays asOf } }`, { u: USER })).data!
        .userEmbedding;
      expect(after.plays).toBe(before.plays + 5);
      expect(new Date(after.asOf).getTime()).toBe(last + 5 * 60_000);
      const moved = after.fast.mu.reduce((s: number, v: number, i: number) => s + Math.abs(v - before.fast.mu[i]), 0);
      expect(moved).toBeGreaterThan(1e-3);
      // asOf in the past still gives the old state.
      const past = (await q(`query($u: ID!, $t: DateTime) { userEmbedding(userId: $u, asOf: $t) { mu } }`, { u: USER, t: before.asOf }))
        .data!.userEmbedding;
      past.mu.forEach((v: number, i: number) => expect(v).toBeCloseTo(before.mu[i], 5));
    });

    it("recordPlays rejects the whole batch on one bad play, naming its index", async () => {
      const count = async () => (await store.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM listening_event"))[0].n;
      const before = await count();
      const r = await q(
        `mutation($p: [PlayInput!]!) { recordPlays(input: { plays: $p }) { recorded } }`,
        {
          p: [
            { userId: "new-listener", trackId: "t00001", playedAt: "2026-01-01T10:00:00Z" },
            { userId: "new-listener", trackId: "t00002", playedAt: "2026-01-01T10:05:00Z" },
            { userId: "new-listener", trackId: "no-such-track", playedAt: "2026-01-01T10:10:00Z" },
          ],
        },
        KEY,
      );
      expect(r.errors![0].extensions).toMatchObject({ code: "BAD_USER_INPUT", index: 2 });
      expect(r.errors![0].message).toContain("no-such-track");
      expect(await count()).toBe(before);
      const user = await q(`{ user(id: "new-listener") { id } }`);
      expect(user.errors![0].extensions!.code).toBe("NOT_FOUND");
    });

    it("similarTracks by track agrees with exact search and leaves the track out", async () => {
      const track = "t00010";
      const r = await q(`query($t: ID!) { similarTracks(trackId: $t, k: 10) { track { id genre } distance } }`, { t: track });
      expect(r.errors).toBeUndefined();
      const served = r.data!.similarTracks as { track: { id: string }; distance: number }[];
      const [{ embedding }] = await store.sql.query<{ embedding: number[] }>("SELECT embedding FROM track WHERE external_id = $1", [track]);
      const exact = await nearestTracks(store, embedding, 10, { method: "exact", exclude: [track] });
      expect(served.map((n) => n.track.id)).toEqual(exact.map((n) => n.externalId));
      served.forEach((n, i) => expect(n.distance).toBeCloseTo(exact[i].distance, 3));
    });

    it("similarTracks by user gives the next-track neighbours, and excludeRecent leaves out the last window", async () => {
      const all = await q(`query($u: ID!) { similarTracks(userId: $u, k: 120) { track { id } distance } }`, { u: USER });
      expect(all.errors).toBeUndefined();
      const distances = all.data!.similarTracks.map((n: { distance: number }) => n.distance);
      expect(distances).toEqual([...distances].sort((a, b) => a - b));
      const recent = (
        await q(`query($u: ID!) { user(id: $u) { recentPlays(first: 5) { track { id } } } }`, { u: USER })
      ).data!.user.recentPlays.map((p: { track: { id: string } }) => p.track.id);
      const fresh = await q(`query($u: ID!) { similarTracks(userId: $u, k: 120, excludeRecent: true) { track { id } } }`, { u: USER });
      const ids = fresh.data!.similarTracks.map((n: { track: { id: string } }) => n.track.id);
      for (const id of recent) expect(ids).not.toContain(id);
      expect(ids.length).toBe(120 - new Set(recent).size);
    });

    it("similarTracks needs exactly one of trackId and userId; unknown ids are NOT_FOUND", async () => {
      for (const args of ["", `trackId: "t00001", userId: "${USER}"`]) {
        const r = await q(`{ similarTracks${args ? `(${args})` : ""} { distance } }`);
        expect(r.errors![0].extensions!.code).toBe("BAD_USER_INPUT");
      }
      expect((await q(`{ similarTracks(userId: "nobody") { distance } }`)).errors![0].extensions!.code).toBe("NOT_FOUND");
      expect((await q(`{ userEmbedding(userId: "nobody") { mu } }`)).errors![0].extensions!.code).toBe("NOT_FOUND");
      expect((await q(`{ track(id: "nothing") { id } }`)).errors![0].extensions!.code).toBe("NOT_FOUND");
    });

    it("userEmbeddings embeds many users in one call and one batch, in the order asked, as userEmbedding does", async () => {
      const users = (await q(`{ users(first: 40) { edges { node { id } } } }`)).data!.users.edges.map(
        (e: { node: { id: string } }) => e.node.id,
      ) as string[];
      const ids = [...users.slice(0, 30), "nobody", users[0]];
      const batches = server.serving.stats.batches;
      const r = await q(`query($ids: [ID!]!) { userEmbeddings(userIds: $ids) { userId runId plays mu fast { mu } } }`, { ids });
      // One batch: the 31 distinct users, read and encoded together.
      expect(server.serving.stats.batches - batches).toBe(1);
      expect(r.status).toBe(200);
      const list = r.data!.userEmbeddings as ({ userId: string; runId: string; plays: number; mu: number[] } | null)[];
      expect(list.map((e) => e?.userId ?? null)).toEqual([...users.slice(0, 30), null, users[0]]);
      expect(list[31]).toEqual(list[0]);
      // The unknown user is null, with its own error at its index; the others are unaffected.
      expect(r.errors).toEqual([
        expect.objectContaining({ path: ["userEmbeddings", 30], extensions: expect.objectContaining({ code: "NOT_FOUND" }) }),
      ]);
      for (const i of [0, 17]) {
        const single = (await q(`query($u: ID!) { userEmbedding(userId: $u) { runId plays mu } }`, { u: ids[i] })).data!.userEmbedding;
        expect(list[i]).toMatchObject({ runId: single.runId, plays: single.plays });
        single.mu.forEach((v: number, j: number) => expect(list[i]!.mu[j]).toBeCloseTo(v, 5));
      }
      expect((await q(`{ userEmbeddings(userIds: []) { mu } }`)).data).toEqual({ userEmbeddings: [] });
    });

    it("userEmbeddings takes at most 1,000 users, and costs what each asks for times the users", async () => {
      const ids = (n: number) => Array.from({ length: n }, (_, i) => `u${String(i).padStart(5, "0")}`);
      const over = await q(`query($ids: [ID!]!) { userEmbeddings(userIds: $ids) { userId } }`, { ids: ids(1001) });
      expect(over.data).toBeNull();
      expect(over.errors![0]).toMatchObject({
        message: "userIds: at most 1,000 users in one call, got 1,001",
        extensions: { code: "BAD_USER_INPUT", field: "userIds", max: 1000, count: 1001 },
      });
      // 1 + 1,000 x 8 fields: over the cost limit, refused before any work (400).
      const costly = await q(
        `query($ids: [ID!]!) { userEmbeddings(userIds: $ids) { userId mu sigma nextTrack fast { mu } slow { mu } } }`,
        {
          ids: ids(1000),
        },
      );
      expect(costly.status).toBe(400);
      expect(costly.errors![0].extensions).toMatchObject({ code: "BAD_USER_INPUT", cost: 8001, maxCost: DEFAULT_LIMITS.maxCost });
      const runId0 = await q(`{ userEmbeddings(userIds: ["${USER}"], runId: "00000000-0000-4000-8000-000000000000") { mu } }`);
      expect(runId0.errors![0].extensions!.code).toBe("NOT_FOUND");
    });

    it("activateRun makes a successful run the one serving uses, at once; other runs are a CONFLICT", async () => {
      // A second model: as the newest successful run, it serves until one is activated.
      const started = await q(
        `mutation($input: StartTrainingInput!) { startTraining(input: $input) { run { id } } }`,
        { input: { model: "fs-vae-quick", overrides: TINY, seed: 12 } },
        KEY,
      );
      const newer = started.data!.startTraining.run.id as string;
      expect((await waitForRun(store, newer, ended)).status).toBe("SUCCEEDED");
      const servedBy = async () => (await q(`{ userEmbedding(userId: "${USER}") { runId } }`)).data!.userEmbedding.runId;
      expect(await servedBy()).toBe(newer);

      const activate = `mutation($input: ActivateRunInput!) { activateRun(input: $input) { run { id active status } clientMutationId } }`;
      const activated = await q(activate, { input: { runId, clientMutationId: "back" } }, KEY);
      expect(activated.data!.activateRun).toEqual({ run: { id: runId, active: true, status: "SUCCEEDED" }, clientMutationId: "back" });
      expect(await servedBy()).toBe(runId);
      expect((await q(`query($id: ID!) { run(id: $id) { active } }`, { id: newer })).data!.run.active).toBe(false);

      const baseline = (await q(`{ runs(first: 50) { edges { node { id hasModel } } } }`))
        .data!.runs.edges.map((e: { node: { id: string; hasModel: boolean } }) => e.node)
        .find((r: { hasModel: boolean }) => !r.hasModel);
      const conflict = await q(activate, { input: { runId: baseline.id } }, KEY);
      expect(conflict.errors![0].extensions!.code).toBe("CONFLICT");
      const missing = await q(activate, { input: { runId: "00000000-0000-4000-8000-000000000000" } }, KEY);
      expect(missing.errors![0].extensions!.code).toBe("NOT_FOUND");
      expect((await q(activate, { input: { runId: newer } })).errors![0].extensions!.code).toBe("UNAUTHENTICATED");
      expect(await servedBy()).toBe(runId);
    });
  });

  describe("catalogue and models", () => {
    it("lists users and tracks as connections and shows a user's recent plays", async () => {
      const p1 = await q(`{ users(first: 30) { edges { node { id } cursor } pageInfo { hasNextPage endCursor } } }`);
      const p2 = await q(`query($a: String) { users(first: 30, after: $a) { edges { node { id } } pageInfo { hasNextPage } } }`, {
        a: p1.data!.users.pageInfo.endCursor,
      });
      const ids = [...p1.data!.users.edges, ...p2.data!.users.edges].map((e: { node: { id: string } }) => e.node.id);
      const [{ n }] = await store.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM app_user");
      expect(new Set(ids).size).toBe(n);
      expect(p2.data!.users.pageInfo.hasNextPage).toBe(false);
      const user = await q(
        `query($u: ID!) { user(id: $u) { id playCount recentPlays(first: 3) { playedAt skipped track { id embedding } } } }`,
        { u: USER },
      );
      expect(user.data!.user.recentPlays).toHaveLength(3);
      expect(user.data!.user.recentPlays[0].track.embedding).toHaveLength(80);
      const times = user.data!.user.recentPlays.map((p: { playedAt: string }) => p.playedAt);
      expect(times).toEqual([...times].sort().reverse());
      const bad = await q(`{ users(after: "bogus") { edges { cursor } } }`);
      expect(bad.errors![0].extensions!.code).toBe("BAD_USER_INPUT");
    });

    it("lists shipped models and validates a spec without training (also through executeOperation)", async () => {
      const apollo = createApollo(DEFAULT_LIMITS);
      await apollo.start();
      try {
        const context = requestContext({ store, serving: server.serving, worker: null, policy: { apiKey: KEY, openQueries: true } }, false);
        const models = await apollo.executeOperation({ query: `{ models { name source type } }` }, { contextValue: context });
        const body = models.body.kind === "single" ? models.body.singleResult : null;
        expect(body?.errors).toBeUndefined();
        const names = (body!.data!.models as { name: string; source: string }[]).map((m) => m.name);
        expect(names).toEqual(expect.arrayContaining(["fs-vae", "fs-vae-quick", "no-fast", "average"]));
        const valid = await apollo.executeOperation(
          {
            query: `query($s: String!) { validateSpec(spec: $s) { valid name parameterCount layers { name shape params } errors { message } } }`,
            variables: { s: "extends: fs-vae-quick\nname: mine\n" },
          },
          { contextValue: context },
        );
        const v = valid.body.kind === "single" ? valid.body.singleResult.data!.validateSpec : null;
        expect(v).toMatchObject({ valid: true, name: "mine", errors: [] });
        expect((v as { parameterCount: number }).parameterCount).toBeGreaterThan(1000);
      } finally {
        await apollo.stop();
      }
      const invalid = await q(`query($s: String!) { validateSpec(spec: $s) { valid errors { line column path message } } }`, {
        s: "extends: fs-vae-quick\nname: mine\ntraining:\n  epochs: many\n",
      });
      expect(invalid.data!.validateSpec.valid).toBe(false);
      expect(invalid.data!.validateSpec.errors[0]).toMatchObject({ line: 4, path: "training.epochs" });
    });
  });

  describe("safety", () => {
    it("mutations need the API key, over HTTP and WebSocket", async () => {
      const http = await q(`mutation { startTraining(input: { model: "average" }) { run { id } } }`);
      expect(http.status).toBe(401);
      expect(http.errors![0].extensions!.code).toBe("UNAUTHENTICATED");
      const wrong = await q(`mutation { startTraining(input: { model: "average" }) { run { id } } }`, {}, "wrong-key");
      expect(wrong.errors![0].extensions!.code).toBe("UNAUTHENTICATED");
      const client = wsClient(url);
      const { results, error } = await collect(client, `mutation { recordPlays(input: { plays: [] }) { recorded } }`);
      await client.dispose();
      expect(results).toEqual([]);
      expect((error as { extensions: { code: string } }[])[0].extensions.code).toBe("UNAUTHENTICATED");
    });

    it("queries need the key too when the server is not open (e.g. bound beyond loopback)", async () => {
      const closed = await startServer(store, { port: 0, policy: { apiKey: KEY, openQueries: false } });
      try {
        const anonymous = await gql(closed.graphqlUrl, `{ models { name } }`);
        expect(anonymous.errors![0].extensions!.code).toBe("UNAUTHENTICATED");
        const keyed = await gql(closed.graphqlUrl, `{ models { name } }`, {}, KEY);
        expect(keyed.errors).toBeUndefined();
        const client = wsClient(closed.graphqlUrl);
        const { error } = await collect(client, `subscription($id: ID!) { trainingProgress(runId: $id) { kind } }`, { id: runId });
        await client.dispose();
        expect((error as { extensions: { code: string } }[])[0].extensions.code).toBe("UNAUTHENTICATED");
      } finally {
        await closed.close();
      }
    });

    it("limits depth and cost on HTTP and WebSocket alike", async () => {
      // The schema's deepest legitimate query has depth 6 (the default limit is 8), so a lower limit shows the rule at work.
      const limited = await startServer(store, {
        port: 0,
        policy: { apiKey: KEY, openQueries: true },
        limits: { maxDepth: 4, maxCost: 2000 },
      });
      try {
        const deep = `{ users(first: 2) { edges { node { recentPlays(first: 2) { track { id } } } } } }`;
        const d = await gql(limited.graphqlUrl, deep);
        expect(d.errors![0].message).toBe("Query depth limit of 4 exceeded, found 6.");
        expect(d.errors![0].extensions!.code).toBe("GRAPHQL_VALIDATION_FAILED");
        expect((await q(deep)).errors).toBeUndefined();
        const costly = `{ tracks(first: 500) { edges { node { id title artist genre embedding } } } }`;
        const c = await gql(limited.graphqlUrl, costly);
        expect(c.errors![0].extensions).toMatchObject({ code: "BAD_USER_INPUT", maxCost: 2000 });
        expect(c.errors![0].extensions!.cost).toBeGreaterThan(2000);
        const tooCostly = `{ users(first: 500) { edges { node { recentPlays(first: 500) { track { id embedding } } } } } }`;
        expect((await q(tooCostly)).errors![0].extensions).toMatchObject({ code: "BAD_USER_INPUT", maxCost: DEFAULT_LIMITS.maxCost });
        const client = wsClient(limited.graphqlUrl, KEY);
        for (const [query, code] of [
          [deep, "GRAPHQL_VALIDATION_FAILED"],
          [costly, "BAD_USER_INPUT"],
        ]) {
          const { results, error } = await collect(client, query);
          expect(results).toEqual([]);
          expect((error as { extensions: { code: string } }[])[0].extensions.code).toBe(code);
        }
        await client.dispose();
      } finally {
        await limited.close();
      }
    });

    it("prevents CSRF, limits request size, and sends no stack traces", async () => {
      const simpleGet = await fetch(`${url}?query=${encodeURIComponent("{ models { name } }")}`);
      expect(simpleGet.status).toBe(400);
      const textPost = await fetch(url, {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: JSON.stringify({ query: "{ models { name } }" }),
      });
      expect(textPost.status).toBe(400);
      const preflighted = await fetch(`${url}?query=${encodeURIComponent("{ models { name } }")}`, {
        headers: { "apollo-require-preflight": "1" },
      });
      expect(preflighted.status).toBe(200);
      const big = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: `{ models { name } }`, variables: { pad: "x".repeat(DEFAULT_LIMITS.maxRequestBytes) } }),
      });
      expect(big.status).toBe(413);
      const broken = await q(`{ models { name `);
      expect(broken.errors![0].extensions!.code).toBe("GRAPHQL_PARSE_FAILED");
      const unknown = await q(`{ modelz { name } }`);
      expect(unknown.errors![0].extensions!.code).toBe("GRAPHQL_VALIDATION_FAILED");
      for (const r of [broken, unknown]) expect(JSON.stringify(r)).not.toContain("stacktrace");
    });
  });
});
