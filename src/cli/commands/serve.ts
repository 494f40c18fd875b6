import type { Command } from "commander";
import { startApp, type App } from "../../app";
import { DEFAULT_WORLD_SIZE } from "../../demo/world";
import { exitOnSignals } from "../signals";

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description(
      "start the server (npm start): GraphQL at /graphql, GET /health; loads the demo world into an empty store and trains a first model",
    )
    .option("--port <port>", "port to listen on", process.env.PORT ?? "4000")
    .option(
      "--host <host>",
      "address to bind (queries are open without a key only on loopback; see RUBATO_OPEN_QUERIES)",
      process.env.HOST ?? "127.0.0.1",
    )
    .option("--no-demo", "do not load the demo world into an empty store")
    .option("--no-worker", "do not train queued runs in this process (leave them to rubato worker processes)")
    .option(
      "--default-models <names>",
      "models to train, in order, when the store has data but no model yet (comma-separated)",
      "fs-vae-starter,fs-vae-quick",
    )
    .option("--no-default-models", "do not start training on a store without a model")
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
        defaultModels: string | false;
      }) => {
        // Signals are handled from the first moment, start-up included (opening the store,
        // loading the demo world): start-up stops at its next stage and the store is closed.
        // A second signal, or a stop that outlasts the grace period, exits at once.
        const starting = new AbortController();
        let app: Promise<App | null> = Promise.resolve(null);
        exitOnSignals(async () => {
          starting.abort(new Error("stopped during start-up"));
          await (await app)?.close();
        });
        app = startApp({
          port: Number(opts.port),
          host: opts.host,
          demo: opts.demo ? { users: Number(opts.demoUsers), tracks: Number(opts.demoTracks), days: Number(opts.demoDays) } : null,
          worker: opts.worker,
          defaultModels: opts.defaultModels
            ? opts.defaultModels
                .split(",")
                .map((m) => m.trim())
                .filter(Boolean)
            : [],
          signal: starting.signal,
        }).catch((err: Error) => {
          if (starting.signal.aborted) return null; // stopped by a signal: not a failure
          throw err;
        });
        await app;
      },
    );
}
