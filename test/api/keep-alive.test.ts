/**
 * Keep-alive clients survive a busy server thread: when the thread is blocked
 * for longer than Node's default keep-alive timeout (5 s), the timers of idle
 * connections fire before the requests that arrived meanwhile are read, and
 * every waiting client gets a reset (bench:soak saw 64 at once, at the end of
 * an epoch, while a checkpoint was written through PGlite).
 */
import { KEEP_ALIVE_MS, startServer, type RunningServer } from "../../src/api/server";
import type { Store } from "../../src/store/store";
import { backendName, openTestStore } from "../helpers/store";

const CLIENTS = 32;
const BLOCK_MS = 7_000;

describe(`keep-alive connections across a blocked event loop (${backendName})`, () => {
  let store: Store;
  let server: RunningServer;
  beforeAll(async () => {
    store = await openTestStore();
    server = await startServer(store, { port: 0, policy: { apiKey: "test-key", openQueries: true } });
  });
  afterAll(async () => {
    await server?.close();
    await store?.close();
  });

  it(`no client is reset when the server's thread is busy for ${BLOCK_MS / 1000} s`, async () => {
    expect(KEEP_ALIVE_MS).toBeGreaterThan(BLOCK_MS);
    let answered = 0;
    const errors: string[] = [];
    let stop = false;
    const client = async () => {
      while (!stop) {
        try {
          const res = await fetch(server.graphqlUrl, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ query: "{ __typename }" }),
          });
          expect(await res.json()).toEqual({ data: { __typename: "Query" } });
          answered++;
        } catch (err) {
          const e = err as Error & { cause?: { code?: string } };
          errors.push(e.cause?.code ?? e.message);
        }
        await new Promise((r) => setTimeout(r, Math.random() * 20));
      }
    };
    const clients = Array.from({ length: CLIENTS }, client);
    await new Promise((r) => setTimeout(r, 1_000));
    // This thread is the server's: block it, as a long synchronous write would.
    const until = Date.now() + BLOCK_MS;
    while (Date.now() < until);
    await new Promise((r) => setTimeout(r, 2_000));
    stop = true;
    await Promise.all(clients);
    expect(errors).toEqual([]);
    expect(answered).toBeGreaterThan(CLIENTS * 2);
  }, 60_000);
});
