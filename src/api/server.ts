/**
 * The HTTP server: GET /health, and the GraphQL API at /graphql (POST and
 * GET through Apollo, WebSocket subscriptions through graphql-ws on the same
 * path; a browser's GET gets GraphiQL, served offline from /graphiql/*). Bodies over the size limit are refused with 413 before parsing.
 */
import http from "node:http";
import { HeaderMap } from "@apollo/server";
import type { Store } from "../store/store";
import { storeStats } from "../store/stats";
import { Serving } from "../serving";
import { hasKey, type AccessPolicy } from "./auth";
import { requestContext, type ApiServices } from "./context";
import { attachWebSocket, createApollo } from "./graphql";
import { GRAPHIQL_ASSET_PREFIX, sendGraphiql, sendGraphiqlAsset, wantsGraphiql } from "./graphiql";
import { DEFAULT_LIMITS, fragmentLimitErrorOfText, type Limits } from "./limits";

export interface RunningServer {
  url: string;
  /** The GraphQL endpoint (http://...; ws://... for subscriptions). */
  graphqlUrl: string;
  serving: Serving;
  close(): Promise<void>;
}

export interface ServerOptions {
  port?: number;
  host?: string;
  policy: AccessPolicy;
  /** The worker training in this process, if any. */
  worker?: ApiServices["worker"];
  limits?: Partial<Limits>;
}

const GRAPHQL_PATH = "/graphql";
/** How long an idle keep-alive connection stays open (see startServer). */
export const KEEP_ALIVE_MS = 65_000;

/**
 * How long close() lets the requests in flight finish before it cuts their connections.
 * The store closes after the server: a request cut and still running would reach a
 * closed store (and log an error), and a recordPlays in flight would lose its answer.
 */
const DRAIN_MS = 2000;

/**
 * How long close() goes on answering after it begins, before it closes the idle
 * connections. A request a client wrote on a kept-alive connection a moment before
 * the signal can still be unread in its socket, and Node counts that connection as
 * idle: closing it at once resets the request unanswered. Meanwhile every answer
 * carries `connection: close`, so the clients leave of their own accord.
 */
const GRACE_MS = 500;

class TooLarge extends Error {}

function readBody(req: http.IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > maxBytes) return reject(new TooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.destroy();
        reject(new TooLarge());
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export async function startServer(store: Store, options: ServerOptions): Promise<RunningServer> {
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  const host = options.host ?? "127.0.0.1";
  const serving = new Serving(store);
  const services: ApiServices = { store, serving, worker: options.worker ?? null, policy: options.policy };
  const apollo = createApollo(limits);
  await apollo.start();

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };

  const graphql = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => {
    let body: unknown = undefined;
    if (req.method === "POST") {
      const text = await readBody(req, limits.maxRequestBytes);
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        return send(res, 400, { errors: [{ message: "the request body is not valid JSON", extensions: { code: "BAD_REQUEST" } }] });
      }
    }
    const query = (body as { query?: unknown } | undefined)?.query ?? url.searchParams.get("query");
    const tooManyFragments = typeof query === "string" ? fragmentLimitErrorOfText(query) : null;
    if (tooManyFragments) return send(res, 400, { errors: [tooManyFragments.toJSON()] });
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    }
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? "GET", headers, search: url.search, body },
      context: async () => requestContext(services, hasKey(req.headers.authorization, services.policy.apiKey)),
    });
    for (const [name, value] of result.headers) res.setHeader(name, value);
    res.statusCode = result.status ?? 200;
    if (result.body.kind === "complete") return res.end(result.body.string);
    for await (const chunk of result.body.asyncIterator) res.write(chunk);
    res.end();
  };

  /** Requests whose answer has not been sent yet, and whether close() has begun. */
  let inFlight = 0;
  let closing = false;
  const server = http.createServer(async (req, res) => {
    inFlight++;
    res.once("close", () => inFlight--);
    // A request on a kept-alive connection while the server closes: answered, and the connection not kept.
    if (closing) res.setHeader("connection", "close");
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (req.method === "GET" && url.pathname === "/health") {
        const database = await storeStats(store);
        return send(res, 200, { status: "ok", database, search: serving.searchFor(database.tracksWithEmbedding) });
      }
      if (url.pathname === GRAPHQL_PATH && wantsGraphiql(req, url)) return sendGraphiql(res, GRAPHQL_PATH);
      if (url.pathname === GRAPHQL_PATH) return await graphql(req, res, url);
      if (req.method === "GET" && url.pathname.startsWith(GRAPHIQL_ASSET_PREFIX) && sendGraphiqlAsset(res, url.pathname)) return;
      send(res, 404, { error: "not found", paths: ["/health", GRAPHQL_PATH] });
    } catch (err) {
      if (err instanceof TooLarge) {
        res.setHeader("connection", "close");
        return send(res, 413, {
          errors: [
            { message: `the request body is larger than ${limits.maxRequestBytes} bytes`, extensions: { code: "PAYLOAD_TOO_LARGE" } },
          ],
        });
      }
      if (!res.headersSent) send(res, 503, { status: "error", error: (err as Error).message });
      else res.end();
    }
  });
  // Node closes a keep-alive connection 5 s after its last answer by default. When this
  // thread is busy for longer (a multi-megabyte checkpoint written through PGlite takes 3 to
  // 6 s on a loaded machine), those timers fire before the requests that arrived meanwhile
  // are read, and every waiting client gets ECONNRESET at once (bench:soak saw 64). So idle
  // connections live for a minute, as behind most load balancers; headers must take longer.
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 1_000;
  const ws = attachWebSocket(server, GRAPHQL_PATH, services, limits);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, resolve);
  });
  const address = server.address();
  const actualPort = typeof address === "object" && address ? address.port : options.port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${actualPort}`;
  return {
    url,
    graphqlUrl: `${url}${GRAPHQL_PATH}`,
    serving,
    async close() {
      await ws.close();
      closing = true;
      await new Promise((r) => setTimeout(r, GRACE_MS));
      // No new connections; idle ones closed; the requests in flight get DRAIN_MS to finish.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = Date.now() + DRAIN_MS;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      server.closeAllConnections();
      await closed;
      await apollo.stop();
      await serving.close();
    },
  };
}
