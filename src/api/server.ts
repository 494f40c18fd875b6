import http from "node:http";
import type { Store } from "../store/store";
import { storeStats } from "../store/stats";

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/** The HTTP server: GET /health for now (the GraphQL API mounts here later). */
export async function startServer(store: Store, port: number, host = "127.0.0.1"): Promise<RunningServer> {
  const server = http.createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (req.method === "GET" && url.pathname === "/health") {
        const stats = await storeStats(store);
        return send(200, { status: "ok", database: stats });
      }
      send(404, { error: "not found", paths: ["/health"] });
    } catch (err) {
      send(503, { status: "error", error: (err as Error).message });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  const actualPort = typeof address === "object" && address ? address.port : port;
  return {
    url: `http://${host}:${actualPort}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
