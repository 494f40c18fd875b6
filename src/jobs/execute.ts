/**
 * Executes one claimed run: builds its dataset as of the run's data cut-off,
 * trains in a thread (resuming from the run's checkpoint), keeps the run's
 * heartbeat, progress and checkpoints in the database, and on success stores
 * the metrics, the model artifact and every user's embedding.
 */
import { parseSpec } from "../spec";
import type { ModelSpec } from "../spec/schema";
import type { SqlClient } from "../store/sql";
import type { Store } from "../store/store";
import { loadTrainingData } from "../train/data";
import { dataSummary, type RunReport } from "../train/run";
import { deserializeCheckpoint } from "../train/checkpoint";
import type { RunEvents } from "./events";
import { ProgressRecorder } from "./progress";
import { finishRun, heartbeat, saveCheckpoint, type QueuedRun } from "../store/run-queue";
import { dropCurvesAfter, lastCurveSeq } from "../store/run-progress";
import { saveArtifact } from "../store/artifacts";
import type { EndedStatus } from "../store/runs";
import { storeUserEmbeddings } from "./embeddings";
import { spawnTrainingThread } from "./thread/spawn";
import type { FromThread, TrainSummary } from "./thread/protocol";
import { modelFor, type ArtifactData } from "../model/registry";
import { pauseBeforeCommit, testPause } from "../test-hooks";

export interface ExecuteOptions {
  store: Store;
  workerId: string;
  events: RunEvents;
  heartbeatMs: number;
  /** Persist step progress at most this often (default 1 s). */
  progressIntervalMs?: number;
  /** Also checkpoint every N steps, besides every epoch (default: epochs only). */
  checkpointEverySteps?: number;
  /**
   * Aborted when this process shuts down: the run is abandoned as it stands, at whatever
   * stage (dataset build, thread start, training, artifact and embeddings): it stays
   * RUNNING and resumes from its checkpoint when a worker takes it again (see RunWorker).
   */
  shutdown?: AbortSignal;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** Cancels the run (as `rubato runs cancel` does, without waiting for a heartbeat): it ends CANCELLED with its checkpoint. */
  cancel?: AbortSignal;
  /** Evaluate at most this many test rows (default MAX_TEST_ROWS). */
  testRows?: number;
  /** Only the first N users (a trial: a worker that resumes the run later would build another dataset, and refuse the checkpoint). */
  maxUsers?: number;
  /** Each checkpoint as it is stored (rubato train --checkpoint FILE also writes it to a file). */
  onCheckpoint?: (checkpoint: Uint8Array) => void;
  /** The dataset's sizes and what the run trained or evaluated, once training has ended. */
  onTrained?: (summary: TrainSummary, data: RunReport["data"]) => void;
}

/** An error that says which stage of the run it came from. */
export class RunError extends Error {
  constructor(
    readonly stage: "spec" | "data" | "training" | "embeddings" | "store",
    message: string,
  ) {
    super(`${stage}: ${message}`);
  }
}

type Trained = { summary: TrainSummary; artifact: ArtifactData | null };

/** The process is shutting down: the run is abandoned, not failed. */
class ShuttingDown extends Error {
  constructor() {
    super("this process is shutting down");
  }
}

/** Resolves on a later turn of the event loop, after pending timers and I/O have had theirs. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The store's SQL with every statement started on a fresh turn of the event loop.
 *
 * PGlite runs in this thread and answers synchronously: a chain of awaited statements
 * settles in microtasks only and never lets the event loop turn. And Node hands over a
 * worker thread's messages in batches: one turn handles every queued message and those
 * that arrive meanwhile (at least 1,000). So when a run's progress and checkpoint writes,
 * made from the message handler, took longer than the training thread took to send its
 * next messages, the loop did not turn again until training ended: no timers (heartbeats,
 * `rubato worker --once`), no signals, no I/O (log lines, the API's requests). Yielding
 * before each statement bounds a stall to one statement. On a server the statements are
 * real I/O anyway; there the yield costs microseconds.
 */
export function yieldingSql(sql: SqlClient): SqlClient {
  return {
    async query<T>(text: string, params?: unknown[]) {
      await nextTurn();
      return sql.query<T>(text, params);
    },
    async execute(text: string, params?: unknown[]) {
      await nextTurn();
      return sql.execute(text, params);
    },
    async copyCsv(table: string, columns: readonly string[], csv: string) {
      await nextTurn();
      return sql.copyCsv(table, columns, csv);
    },
  };
}

/** run.spec: the run's spec when the caller has resolved it already (it is then not parsed again). */
export async function executeRun(run: QueuedRun & { spec?: ModelSpec }, options: ExecuteOptions): Promise<EndedStatus | "LOST"> {
  const { workerId, events } = options;
  // Everything this run writes or reads goes through yielding statements (see yieldingSql).
  const store: Store = { ...options.store, sql: yieldingSql(options.store.sql) };
  const log = options.log ?? (() => undefined);
  const shutdown = options.shutdown;
  let thread: ReturnType<typeof spawnTrainingThread> | null = null;
  let lost = false;
  /** Aborted when this process shuts down or the run's claim is lost: every stage stops. */
  const abandon = new AbortController();
  /** A cancel requested before the training thread took the run: posted to it once it has. */
  let cancelRequested = false;
  /** The heartbeat in flight, if any (awaited before the run returns: it must not outlive it). */
  let beating: Promise<void> | null = null;
  // Shutdown may come at any await of this function, and an AbortSignal that has already
  // fired never calls a listener added later: so the listener goes on first, ends whatever
  // waits on the thread, and every stage also checks the signal after each await.
  let stopTraining: ((err: Error) => void) | null = null;
  const pendingEmbeds = new Map<
    number,
    { resolve: (r: { mu: Float32Array; sigma: Float32Array | null }) => void; reject: (err: Error) => void }
  >();
  const stop = (err: Error) => {
    lost = true;
    abandon.abort(err);
    stopTraining?.(err);
    for (const p of pendingEmbeds.values()) p.reject(err);
    pendingEmbeds.clear();
  };
  const onShutdown = () => stop(new ShuttingDown());
  const checkShutdown = () => {
    if (shutdown?.aborted || abandon.signal.aborted) {
      lost = true;
      throw new ShuttingDown();
    }
  };
  shutdown?.addEventListener("abort", onShutdown, { once: true });
  const onCancel = () => {
    cancelRequested = true;
    thread?.post({ type: "cancel" });
  };
  options.cancel?.addEventListener("abort", onCancel, { once: true });
  if (options.cancel?.aborted) cancelRequested = true;
  if (shutdown?.aborted) onShutdown(); // claimed by a poll that was in progress when the process began to stop
  // The heartbeat starts with the claim, not with the training thread: on a server, a dataset
  // build longer than the heartbeat timeout would otherwise let another worker take the run.
  const timer = setInterval(() => {
    if (beating) return;
    beating = heartbeat(store.sql, run.id, workerId)
      .then((action) => {
        if (action === "cancel") {
          cancelRequested = true;
          thread?.post({ type: "cancel" });
        }
        if (action === "lost") stop(new RunError("store", "this worker lost the run (heartbeat expired)"));
      })
      .catch((err: Error) => log(`heartbeat failed: ${err.message}`, { runId: run.id }))
      .finally(() => (beating = null));
  }, options.heartbeatMs);
  let recorder: ProgressRecorder | null = null;
  let checkpointWriter: Promise<void> | null = null;
  try {
    await testPause("claimed", abandon.signal);
    checkShutdown();
    const spec = run.spec ?? resolveStoredSpec(run.specYaml);
    let stageStarted = performance.now();
    const stageSeconds = () => {
      const now = performance.now();
      const seconds = Math.round((now - stageStarted) / 100) / 10;
      stageStarted = now;
      return seconds;
    };
    const { dataset, catalogue } = await loadTrainingData(store, spec, {
      cutoff: run.dataCutoff ?? undefined,
      signal: abandon.signal,
      maxUsers: options.maxUsers,
    }).catch(
      (err: Error) => {
        checkShutdown();
        throw new RunError("data", err.message);
      },
    );
    checkShutdown();
    const rows = { train: dataset.rows.train.length, validation: dataset.rows.validation.length, test: dataset.rows.test.length };
    log(
      `dataset built in ${stageSeconds()} s: ${dataset.counts.events} plays of ${dataset.counts.users} users; ` +
        `${rows.train} training, ${rows.validation} validation, ${rows.test} test rows`,
      { runId: run.id, rows },
    );
    checkDataFits(spec, dataset.counts.users, dataset.rows);
    const featureStats = structuredClone(dataset.stats);
    const data = dataSummary(dataset, catalogue);

    const resumeStep = run.checkpoint && run.checkpoint.length ? deserializeCheckpoint(run.checkpoint).loop.step : 0;
    // Curve rows written after the checkpoint were lost work: they are replayed, so drop them.
    await dropCurvesAfter(store, run.id, resumeStep);
    checkShutdown();
    const seq = await lastCurveSeq(store, run.id);
    checkShutdown();
    const progress = new ProgressRecorder(store.sql, run.id, events, options.progressIntervalMs ?? 1000, seq);
    recorder = progress;

    // Checkpoints are written one at a time, and only the newest matters: one that arrives
    // while an older one still waits replaces it (a loaded machine writes fewer, never stale ones).
    let nextCheckpoint: { data: Uint8Array; epoch: number; step: number; announce: boolean } | null = null;
    let checkpointError: Error | null = null;
    const writeCheckpoints = async () => {
      try {
        while (nextCheckpoint && !checkpointError) {
          const c = nextCheckpoint;
          nextCheckpoint = null;
          const write = (sql: SqlClient) => saveCheckpoint(sql, run.id, workerId, Buffer.from(c.data));
          // Under the `checkpoint` test hook, the statement runs in a transaction held open before its commit.
          const held = pauseBeforeCommit(store, "checkpoint", abandon.signal);
          const saved = held === store ? await write(store.sql) : await held.transaction(write);
          if (saved) options.onCheckpoint?.(c.data);
          if (saved && c.announce) log(`checkpoint saved at epoch ${c.epoch}, step ${c.step}`, { runId: run.id, step: c.step });
        }
      } catch (err) {
        checkpointError = err as Error; // the run fails when training ends
      }
    };
    const queueCheckpoint = (c: NonNullable<typeof nextCheckpoint>) => {
      nextCheckpoint = c;
      // (.finally runs in a later microtask, so the writer is recorded before it is cleared)
      checkpointWriter ??= writeCheckpoints().finally(() => (checkpointWriter = null));
    };
    const trained = await new Promise<Trained>((resolve, reject) => {
      stopTraining = reject;
      const onMessage = (msg: FromThread) => {
        switch (msg.type) {
          case "step":
            return progress.step(msg.progress);
          case "epoch": {
            const e = msg.progress;
            log(
              `epoch ${e.epoch}/${e.epochs} in ${Math.round(e.seconds * 10) / 10} s (${Math.round(e.samplesPerSecond)} samples/s)` +
                (e.validation ? `; validation loss ${e.validation.loss.toFixed(4)}` : ""),
              { runId: run.id, epoch: e.epoch },
            );
            return progress.epoch(e);
          }
          case "checkpoint":
            return queueCheckpoint({ data: msg.checkpoint, epoch: msg.epoch, step: msg.step, announce: true });
          case "trained":
            queueCheckpoint({ data: msg.checkpoint, epoch: msg.summary.epochs, step: msg.summary.steps, announce: false });
            return resolve({ summary: msg.summary, artifact: msg.artifact });
          case "embedded":
            pendingEmbeds.get(msg.id)?.resolve({ mu: msg.mu, sigma: msg.sigma });
            pendingEmbeds.delete(msg.id);
            return;
          case "log":
            return log(msg.message, { runId: run.id });
          case "error":
            return reject(new RunError("training", msg.message));
        }
      };
      thread = spawnTrainingThread(onMessage, (code, error) => {
        if (error) reject(new RunError("training", error.message));
        else if (code !== 0) reject(new RunError("training", `the training thread exited with code ${code}`));
      });
      thread.post(
        {
          type: "train",
          request: {
            spec,
            dataset,
            catalogue,
            resume: run.checkpoint && run.checkpoint.length ? run.checkpoint : null,
            checkpointEverySteps: options.checkpointEverySteps,
            testRows: options.testRows,
          },
        },
        // The dataset's own arrays move to the thread instead of being copied (the catalogue is still used here).
        transferables({ ...dataset, catalogue: null }),
      );
      if (cancelRequested) thread.post({ type: "cancel" });
    });
    stopTraining = null;
    while (checkpointWriter) await checkpointWriter;
    if (checkpointError) throw checkpointError;
    await progress.flush();
    checkShutdown();
    const s = trained.summary;
    options.onTrained?.(s, data);
    log(
      `trained in ${stageSeconds()} s: ${s.epochs} epoch(s), ${s.steps} steps in ${Math.round(s.seconds * 10) / 10} s; ` +
        `test metrics on ${s.test?.rows ?? 0} rows`,
      { runId: run.id },
    );

    if (trained.summary.status === "cancelled") {
      await finishRun(store.sql, run.id, workerId, { status: "CANCELLED", metrics: metricsOf(trained.summary) });
      events.publish({ runId: run.id, kind: "status", status: "CANCELLED" });
      return "CANCELLED";
    }

    if (trained.artifact) {
      const artifact = trained.artifact;
      await saveArtifact(store, run.id, artifact);
      checkShutdown();
      let nextId = 0;
      const embedInThread = (n: number, fast: Float32Array, mask: Float32Array, slow: Float32Array, bag: Float32Array) =>
        new Promise<{ mu: Float32Array; sigma: Float32Array | null }>((resolve, reject) => {
          if (abandon.signal.aborted) return reject(new ShuttingDown());
          const id = ++nextId;
          pendingEmbeds.set(id, { resolve, reject });
          thread!.post({ type: "embed", id, n, fast, mask, slow, bag });
        });
      await storeUserEmbeddings(store, run.id, spec, featureStats, catalogue, run.dataCutoff, embedInThread, {
        signal: abandon.signal,
        bag: modelFor(spec.type).readsBag === true,
      }).catch((err: Error) => {
        checkShutdown();
        throw new RunError("embeddings", err.message);
      });
      // A shutdown during the last batch's write: the run is abandoned like at any other stage (it resumes from its final checkpoint).
      checkShutdown();
      log(`user embeddings stored in ${stageSeconds()} s`, { runId: run.id });
    }
    const done = await finishRun(store.sql, run.id, workerId, { status: "SUCCEEDED", metrics: metricsOf(trained.summary) });
    if (!done) return "LOST";
    events.publish({ runId: run.id, kind: "status", status: "SUCCEEDED" });
    return "SUCCEEDED";
  } catch (err) {
    if (lost || shutdown?.aborted) return "LOST";
    const message = err instanceof RunError ? err.message : `internal: ${(err as Error).message}`;
    log(`run failed: ${message}`, { runId: run.id });
    await finishRun(store.sql, run.id, workerId, { status: "FAILED", error: message });
    events.publish({ runId: run.id, kind: "status", status: "FAILED", error: message });
    return "FAILED";
  } finally {
    clearInterval(timer);
    await (beating as Promise<void> | null);
    // The worker's signal outlives this run: a listener left on it would keep the run's closure alive.
    shutdown?.removeEventListener("abort", onShutdown);
    options.cancel?.removeEventListener("abort", onCancel);
    const t = thread as ReturnType<typeof spawnTrainingThread> | null;
    if (t) await t.terminate();
    // Nothing of this run may touch the store once it returns (the caller may close it next):
    // the newest checkpoint and the progress reports already received are written first.
    while (checkpointWriter as Promise<void> | null) await checkpointWriter;
    await (recorder as ProgressRecorder | null)?.flush();
  }
}

function transferables(value: unknown, found = new Set<ArrayBuffer>()): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) found.add(value.buffer);
  } else if (value && typeof value === "object") {
    for (const v of Object.values(value)) transferables(v, found);
  }
  return [...found];
}

function resolveStoredSpec(specYaml: string): ModelSpec {
  const parsed = parseSpec(specYaml, { file: "<run spec>" });
  if (!parsed.ok) throw new RunError("spec", parsed.errors.map((e) => `${e.path}: ${e.message}`).join("; "));
  return parsed.spec;
}

/** A spec that validates can still not fit the data; say what to change. */
export function checkDataFits(
  spec: ModelSpec,
  users: number,
  rows: { train: ArrayLike<number>; validation: ArrayLike<number>; test: ArrayLike<number> },
): void {
  const split = spec.training.split;
  const sizes = `${users} users give ${rows.train.length} training, ${rows.validation.length} validation and ${rows.test.length} test rows`;
  const where = `split by ${split.by} ${split.train}/${split.validation}/${split.test}`;
  if (rows.train.length === 0)
    throw new RunError("data", `${sizes} (${where}): no training rows; load more listening data or change training.split`);
  if (modelFor(spec.type).learned && split.validation > 0 && rows.validation.length === 0) {
    throw new RunError("data", `${sizes} (${where}): too few users for the split; load more data, or set training.split.validation to 0`);
  }
  if (split.test > 0 && rows.test.length === 0) {
    throw new RunError("data", `${sizes} (${where}): too few users for the split; load more data, or set training.split.test to 0`);
  }
}

function metricsOf(s: TrainSummary) {
  return {
    status: s.status,
    epochs: s.epochs,
    steps: s.steps,
    seconds: s.seconds,
    best: s.best,
    activeUnits: s.latent.activeUnits,
    latentUnits: s.latent.latentUnits,
    schedule: s.schedule,
    warnings: s.warnings,
    backend: s.backend,
    test: s.test,
  };
}
