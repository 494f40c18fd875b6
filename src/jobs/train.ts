/**
 * `rubato train`: a run queued and trained in this process through the
 * queue's own path (executeRun and its training thread), so every CLI
 * training is a stored run that `rubato runs` lists, with its curves,
 * checkpoints, artifact and user embeddings. The run is queued already held
 * by this process, so no other worker takes it; --resume RUN_ID continues a
 * run from its stored checkpoint.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import { SpecInvalid, startRun } from "./runs";
import { reclaimRun, heldRun, saveCheckpoint } from "../store/run-queue";
import { runStatus, type EndedStatus } from "../store/runs";
import { heartbeatEveryMs, heartbeatTimeoutMs } from "./worker";
import { executeRun } from "./execute";
import { RunEvents } from "./events";
import { BadUserInput } from "../errors";
import { parseSpec } from "../spec";
import type { ModelSpec } from "../spec/schema";
import type { Store } from "../store/store";
import { SHIPPED_MODELS_DIR } from "../spec/load";
import type { RunReport, TrainSummary } from "../train/run";
import { runReport } from "../train/run";
import type { EpochProgress, StepProgress } from "../train/trainer";

export interface TrainRunOptions {
  modelsDir?: string;
  /** Spec overrides (training.epochs, seed, batch_size, threads), as startTraining's overrides. */
  overrides?: { training: Record<string, number | string> };
  /** Continue this run (QUEUED, CANCELLED, FAILED, or RUNNING left by a dead process) instead of queueing a new one. */
  resumeRun?: string;
  /** Start the new run from this checkpoint (a file written by --checkpoint). */
  resumeCheckpoint?: Buffer;
  maxUsers?: number;
  testRows?: number;
  onCheckpoint?: (checkpoint: Uint8Array) => void;
  signal?: AbortSignal;
  onStep?: (p: StepProgress) => void;
  onEpoch?: (p: EpochProgress) => void;
  log?: (message: string) => void;
}

export interface TrainRunResult {
  runId: string;
  status: EndedStatus | "LOST";
  /** Null when the run failed before training ended (its error is in error). */
  report: RunReport | null;
  error: string | null;
}

/** Queues `model` (a spec name or file) as a run held by this process, and trains it here. */
export async function trainRun(store: Store, model: string | null, options: TrainRunOptions = {}): Promise<TrainRunResult> {
  const workerId = `${os.hostname()}:${process.pid}:train:${crypto.randomBytes(3).toString("hex")}`;
  let spec: ModelSpec;
  let warnings: string[] = [];
  let runId: string;
  if (options.resumeRun) {
    const run = await reclaimRun(store.sql, options.resumeRun, workerId, store.backend === "pglite");
    if (!run)
      throw new BadUserInput(`run ${options.resumeRun} cannot be resumed: it does not exist, succeeded, or another worker holds it`);
    const parsed = parseSpec(run.specYaml, { file: `<run ${run.id} spec>` });
    if (!parsed.ok) throw new SpecInvalid(parsed.errors);
    spec = parsed.spec;
    runId = run.id;
  } else {
    if (!model) throw new BadUserInput("name a spec to train, or --resume a run");
    const started = await startRun(store, { model, files: true, overrides: options.overrides }, options.modelsDir ?? SHIPPED_MODELS_DIR, {
      heldBy: workerId,
    });
    ({ spec, warnings } = started);
    runId = started.id;
    if (options.resumeCheckpoint) await saveCheckpoint(store.sql, runId, workerId, options.resumeCheckpoint);
  }
  const run = await heldRun(store.sql, runId, workerId);
  if (!run) throw new Error(`run ${runId} was taken by another worker`);
  options.log?.(`run ${run.id} (${run.modelName}, seed ${run.seed})${run.checkpoint ? ": resuming from its checkpoint" : ""}`);

  const events = new RunEvents();
  const unsubscribe = events.subscribe((e) => {
    if (e.runId !== run.id) return;
    if (e.kind === "step") options.onStep?.(e.progress);
    else if (e.kind === "epoch") options.onEpoch?.(e.progress);
  });
  let trained: { summary: TrainSummary; data: RunReport["data"] } | null = null;
  try {
    const status = await executeRun(
      { ...run, spec },
      {
        store,
        workerId,
        events,
        heartbeatMs: heartbeatEveryMs(heartbeatTimeoutMs()),
        cancel: options.signal,
        testRows: options.testRows,
        maxUsers: options.maxUsers,
        onCheckpoint: options.onCheckpoint,
        onTrained: (summary, data) => (trained = { summary, data }),
        log: (message) => options.log?.(message),
      },
    );
    const row = await runStatus(store, run.id);
    const done = trained as { summary: TrainSummary; data: RunReport["data"] } | null;
    const report = done ? { runId: run.id, ...runReport(spec, run.specHash, warnings, done.data, done.summary) } : null;
    return { runId: run.id, status, report, error: row?.error ?? null };
  } finally {
    unsubscribe();
  }
}

/** A checkpoint file for --resume FILE. */
export function readCheckpointFile(file: string): Buffer {
  if (!fs.existsSync(file)) throw new BadUserInput(`no checkpoint file ${file}`);
  return fs.readFileSync(file);
}
