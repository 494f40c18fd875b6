import { log } from "../log";

/** How long a graceful stop may take before the process exits anyway (RUBATO_SHUTDOWN_GRACE_MS, default 8 s). */
export function shutdownGraceMs(env: NodeJS.ProcessEnv = process.env): number {
  return Number(env.RUBATO_SHUTDOWN_GRACE_MS) || 8000;
}

/**
 * SIGINT and SIGTERM for the long-running commands (serve, worker). The first
 * signal runs `stop` (abandon the runs in progress, close the server and the
 * store), then exits 0. A second signal, or `stop` outlasting the grace
 * period, exits at once with code 1: whatever was still running is left as a
 * crash would leave it, and a RUNNING run is re-queued by the next worker
 * (at once with the embedded store, after the heartbeat timeout on a server).
 */
export function exitOnSignals(stop: () => Promise<void>, graceMs = shutdownGraceMs()): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, "shutting down");
    setTimeout(() => {
      log.warn({ graceMs }, "shutdown is taking too long: exiting now");
      process.exit(1);
    }, graceMs).unref();
    stop().then(
      () => process.exit(0),
      (err: Error) => {
        log.error({ err: err.message }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
