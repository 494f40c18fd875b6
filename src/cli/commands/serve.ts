import type { Command } from "commander";
import { startServer } from "../../api/server";
import { DEFAULT_WORLD_SIZE } from "../../demo/world";
import { log } from "../../log";
import { loadDemoWorld } from "../../store/demo-data";
import { storeStats } from "../../store/stats";
import { openStore } from "../../store/store";
import { RunWorker } from "../../jobs/worker";

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("start the server (npm start): opens and migrates the store, loads the demo world when it is empty")
    .option("--port <port>", "port to listen on", process.env.PORT ?? "4000")
    .option("--host <host>", "address to bind", process.env.HOST ?? "127.0.0.1")
    .option("--no-demo", "do not load the demo world into an empty store")
    .option("--no-worker", "do not train queued runs in this process (leave them to rubato worker processes)")
    .option("--demo-users <n>", "size of the demo world loaded into an empty store", String(DEFAULT_WORLD_SIZE.users))
    .option("--demo-tracks <n>", "", String(DEFAULT_WORLD_SIZE.tracks))
    .option("--demo-days <n>", "", String(DEFAULT_WORLD_SIZE.days))
    .action(
      async (opts: {
        port: string;
        host: string;
        demo: boolean;
        demoUsers: string;
        demoTracks: string;
        demoDays: string;
        worker: boolean;
      }) => {
        const started = Date.now();
        const store = await openStore();
        log.info({ backend: store.backend, location: store.location }, "store open");
        const stats = await storeStats(store);
        if (opts.demo && stats.events === 0 && stats.tracks === 0) {
          const size = { users: Number(opts.demoUsers), tracks: Number(opts.demoTracks), days: Number(opts.demoDays), seed: 1 };
          log.info(size, "empty store: loading the demo world");
          const r = await loadDemoWorld(store, size);
          log.info(
            { tracks: r.tracks.tracksCreated, events: r.events.inserted, users: r.events.usersCreated, seconds: r.events.seconds },
            "demo world loaded",
          );
        }
        // Training runs in threads of this process; the store's event loop stays free for the API.
        const worker = opts.worker
          ? new RunWorker(store, { exclusive: store.backend === "pglite", log: (message, fields) => log.info(fields ?? {}, message) })
          : null;
        await worker?.start();
        const server = await startServer(store, Number(opts.port), opts.host);
        log.info({ url: server.url, health: `${server.url}/health`, startupSeconds: (Date.now() - started) / 1000 }, "listening");
        let closing = false;
        const shutdown = async (signal: string) => {
          if (closing) return;
          closing = true;
          log.info({ signal }, "shutting down");
          await worker?.stop();
          await server.close();
          await store.close();
          process.exit(0);
        };
        process.on("SIGINT", () => void shutdown("SIGINT"));
        process.on("SIGTERM", () => void shutdown("SIGTERM"));
      },
    );
}
