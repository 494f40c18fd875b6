/**
 * `rubato serve` (npm start): the store, the demo world when the store is
 * empty, the in-process worker, a first model when there is none, and the
 * HTTP/GraphQL server.
 */
import { loadApiKey, openQueriesFor } from "./api/auth";
import { limitsFromEnv } from "./api/limits";
import { startServer, type RunningServer } from "./api/server";
import { ensureDefaultRuns } from "./jobs/runs";
import { RunWorker } from "./jobs/worker";
import { log } from "./log";
import { dataDir } from "./store/config";
import { advisoryXactLock } from "./store/locks";
import { loadDemoWorld, unfinishedDemoWorld } from "./data/demo-data";
import { storeStats } from "./store/stats";
import { openStore, type Store } from "./store/store";

export interface AppOptions {
  port: number;
  host: string;
  /** Size of the demo world loaded into an empty store; null: load none. */
  demo: { users: number; tracks: number; days: number } | null;
  /** Train queued runs in this process (threads), not only in `rubato worker` processes. */
  worker: boolean;
  /** Queue these models, in order, when the store has data but no model (empty: none). */
  defaultModels: string[];
  /**
   * Aborted when the process is told to stop while it starts: start-up stops at its next
   * stage (a demo world load rolls back the plays' transaction at its next chunk), closes
   * the store and rejects with the signal's reason.
   */
  signal?: AbortSignal;
}

export interface App {
  store: Store;
  server: RunningServer;
  worker: RunWorker | null;
  apiKey: string;
  close(): Promise<void>;
}

export async function startApp(options: AppOptions): Promise<App> {
  const started = Date.now();
  const signal = options.signal;
  signal?.throwIfAborted();
  const store = await openStore();
  log.info({ backend: store.backend, location: store.location }, "store open");
  try {
    signal?.throwIfAborted();
    // Servers that start together on one empty database load the demo world and queue the first models once.
    const queued = await startingAlone(store, async () => {
      const stats = await storeStats(store);
      // A load a killed or stopped process left half done (tracks without plays) is finished first.
      const unfinished = await unfinishedDemoWorld(store);
      if (options.demo && (unfinished || (stats.events === 0 && stats.tracks === 0))) {
        const size = unfinished ?? { ...options.demo, seed: 1 };
        log.info(size, unfinished ? "the last demo world load did not finish: loading it again" : "empty store: loading the demo world");
        const r = await loadDemoWorld(store, size, undefined, signal);
        log.info(
          { tracks: r.tracks.tracksCreated, events: r.events.inserted, users: r.events.usersCreated, seconds: r.events.seconds },
          "demo world loaded",
        );
      } else if (unfinished) {
        log.warn(unfinished, "the last demo world load did not finish (rubato demo-data with the same options finishes it)");
      }
      signal?.throwIfAborted();
      return ensureDefaultRuns(store, options.defaultModels);
    });
    signal?.throwIfAborted();
    const key = loadApiKey(dataDir());
    if (key.created)
      log.warn(
        { file: key.file, apiKey: key.key },
        "generated an API key for mutations (send Authorization: Bearer KEY); set RUBATO_API_KEY to choose one",
      );
    else log.info({ from: key.file ?? "RUBATO_API_KEY" }, "API key loaded");
    const openQueries = openQueriesFor(options.host);

    // Training runs in threads of this process; the event loop stays free for the API.
    const worker = options.worker
      ? new RunWorker(store, { exclusive: store.backend === "pglite", log: (message, fields) => log.info(fields ?? {}, message) })
      : null;
    const server = await startServer(store, {
      port: options.port,
      host: options.host,
      policy: { apiKey: key.key, openQueries },
      worker,
      limits: limitsFromEnv(),
    });
    // A finished run may be the new serving model; load it (and the track index) before the first request needs it.
    const warm = () =>
      server.serving
        .warm()
        .then((w) => log.info({ prefilledUsers: w.users, warmSeconds: Number(w.seconds.toFixed(2)) }, "serving warmed up"))
        .catch((err: Error) => log.warn({ err: err.message }, "serving warm-up failed"));
    worker?.events.subscribe((e) => {
      if (e.kind !== "status" || e.status !== "SUCCEEDED") return;
      server.serving.invalidate();
      void warm();
    });
    void warm();
    for (const run of queued) log.info({ runId: run.id, model: run.modelName }, "no model yet: queued for training in the background");
    await worker?.start();
    log.info(
      {
        url: server.url,
        graphql: server.graphqlUrl,
        health: `${server.url}/health`,
        openQueries,
        startupSeconds: (Date.now() - started) / 1000,
      },
      "listening",
    );
    return {
      store,
      server,
      worker,
      apiKey: key.key,
      async close() {
        await worker?.stop();
        await server.close();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** The first key of the advisory lock that start-ups take on a server ("RbSu"). */
const STARTUP_LOCK = 0x52625375;

/**
 * Runs fn holding a server-wide advisory lock (on a server; the embedded store has one
 * process): a server that starts while another loads the demo world waits for it, then
 * finds the world loaded and the first models queued. The lock is a transaction's, held on
 * a connection of its own, so a process that dies releases it.
 */
async function startingAlone<T>(store: Store, fn: () => Promise<T>): Promise<T> {
  if (store.backend !== "postgres") return fn();
  return store.transaction(async (tx) => {
    await advisoryXactLock(tx, STARTUP_LOCK, () =>
      log.info("another process is starting on this database (loading the demo world?): waiting for it"),
    );
    return fn();
  });
}
