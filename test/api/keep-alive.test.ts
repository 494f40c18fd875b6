/**
 * Keep-alive clients survive a busy server thread: when the thread is blocked
 * for longer than Node's default keep-alive timeout (5 s), the timers of idle
 * connections fire before the requests that arrived meanwhile are read, and
 * every waiting client gets a reset (bench:soak saw 64 at once, at the end of
 * an epoch, while a checkpoint was written through PGlite).
 *
 * And close() answers what was sent before it: a request a client wrote on a
 * kept-alive connection a moment before the server began closing may still be
 * unread in the socket, and Node counts such a connection as idle. Closing the
 * idle connections at once reset it, and the client got no answer for a request
 * sent before the signal (faults.test.ts saw it once in CI, under load).
 */
import net from "node:net";
import { KEEP_ALIVE_MS, startServer, type RunningServer } from "../../src/api/server";
import type { Store } from "../../src/store/store";
import { backendName, openTestStore } from "../helpers/store";

const REQUEST = "GET /health HTTP/1.1\r\nhost: localhost\r\nconnection: keep-alive\r\n\r\n";

/** Everything the socket receives until the server ends it (or an error cuts it). */
function received(socket: net.Socket) {
  let text = "";
  socket.on("data", (chunk) => (text += chunk.toString()));
  return new Promise<{ text: string; error?: string }>((resolve) => {
    socket.on("close", () => resolve({ text }));
    socket.on("error", (err: NodeJS.ErrnoException) => resolve({ text, error: err.code ?? err.message }));
  });
}

/** The first whole answer on the socket (/health answers chunked: up to the last chunk). */
function firstAnswer(socket: net.Socket) {
  return new Promise<string>((resolve) => {
    let text = "";
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (!text.endsWith("\r\n0\r\n\r\n")) return;
      socket.off("data", onData);
      resolve(text);
    };
    socket.on("data", onData);
  });
}

const CLIENTS = 32;
const BLOCK_MS = 7_000;

describe(`keep-alive connections across a blocked event loop and at close() (${backendName})`, () => {
  let store: Store;
  let server: RunningServer;
  beforeAll(async () => {
    store = await openTestStore();
    server = await startServer(store, { port: 0, policy: { apiKey: "test-key", openQueries: true } });
  });
  let closed = false;
  afterAll(async () => {
    if (!closed) await server?.close();
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

  it("a request written on a kept-alive connection just before close() is answered, and its connection closed", async () => {
    const port = Number(new URL(server.url).port);
    const socket = net.connect(port, "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    socket.write(REQUEST);
    expect(await firstAnswer(socket)).toMatch(/^HTTP\/1\.1 200/);
    // The connection is idle now. A second request, and the server's thread busy
    // until it has certainly arrived, unread, before close() begins.
    const rest = received(socket);
    socket.write(REQUEST);
    const until = Date.now() + 100;
    while (Date.now() < until);
    const closing = server.close();
    closed = true;
    const { text, error } = await rest;
    await closing;
    // Without the grace close() gives (GRACE_MS, src/api/server.ts): ECONNRESET and no answer.
    expect(error).toBeUndefined();
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).toMatch(/connection: close/i);
  });
});
