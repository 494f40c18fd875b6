import { startServer, type RunningServer } from "../../src/api/server";
import { loadDemoWorld } from "../../src/data/demo-data";
import type { Store } from "../../src/store/store";
import { openTestStore, backendName } from "../helpers/store";

describe(`GET /health over HTTP (${backendName})`, () => {
  let store: Store;
  let server: RunningServer;
  beforeAll(async () => {
    store = await openTestStore();
    await loadDemoWorld(store, { users: 20, tracks: 60, days: 2, seed: 3 });
    server = await startServer(store, { port: 0, policy: { apiKey: "test-key", openQueries: true } });
  });
  afterAll(async () => {
    await server.close();
    await store.close();
  });

  it("answers 200 with the backend and the counts of users, tracks and events", async () => {
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const body = await res.json();
    const [counts] = await store.sql.query<{ users: number; tracks: number; events: number }>(
      `SELECT (SELECT count(*)::int FROM app_user) AS users, (SELECT count(*)::int FROM track) AS tracks,
              (SELECT count(*)::int FROM listening_event) AS events`,
    );
    expect(counts.events).toBeGreaterThan(0);
    expect(body).toMatchObject({
      status: "ok",
      database: { backend: backendName, users: counts.users, tracks: 60, events: counts.events, embeddingDim: 80 },
      // what similarTracks does with 60 tracks: exhaustive, in process
      search: { engine: "in-process", method: "exact", exactBelow: 20_000 },
    });
    expect((body as { database: object }).database).not.toHaveProperty("vectorSearch");
  });

  it("answers 404 with the known paths elsewhere", async () => {
    const res = await fetch(`${server.url}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "not found", paths: ["/health", "/graphql"] });
  });
});
