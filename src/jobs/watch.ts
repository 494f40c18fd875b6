/**
 * A run's progress as a stream: what `subscription trainingProgress` serves.
 * Reports come from this process's worker as they happen (RunEvents) and,
 * for runs trained elsewhere (a `rubato worker` process), from the rows the
 * trainer persists, polled. The stream starts with the run's status and ends
 * after it reaches SUCCEEDED, FAILED or CANCELLED.
 */
import type { Store } from "../store/store";
import type { RunEvent, RunEvents } from "./events";
import { lastCurveSeq, runCurves } from "../store/run-progress";
import { hasEnded, runStatus, type RunStatus } from "../store/runs";
import { getRun } from "./runs";

export interface ProgressReport {
  runId: string;
  kind: "STEP" | "EPOCH" | "STATUS";
  status: RunStatus;
  epoch: number | null;
  epochs: number | null;
  step: number | null;
  totalSteps: number | null;
  loss: number | null;
  reconstruction: number | null;
  kl: number | null;
  samplesPerSecond: number | null;
  etaSeconds: number | null;
  validationLoss: number | null;
  values: unknown;
  error: string | null;
}


type Values = Record<string, unknown> & { train?: Record<string, number>; validation?: { loss?: number } | null };
const num = (v: unknown) => (typeof v === "number" ? v : null);

function report(
  runId: string,
  kind: ProgressReport["kind"],
  status: RunStatus,
  v: Values | null,
  error: string | null = null,
): ProgressReport {
  const losses = kind === "EPOCH" ? v?.train : v;
  return {
    runId,
    kind,
    status,
    epoch: num(v?.epoch),
    epochs: num(v?.epochs),
    step: num(v?.step),
    totalSteps: num(v?.totalSteps),
    loss: num(losses?.loss),
    reconstruction: num(losses?.reconstruction),
    kl: num(losses?.kl),
    samplesPerSecond: num(v?.samplesPerSecond),
    etaSeconds: num(v?.etaSeconds),
    validationLoss: num(v?.validation?.loss),
    values: v,
    error,
  };
}

/** Throws NotFound for an unknown run (before the stream starts). */
export async function watchRun(
  store: Store,
  runId: string,
  options: { events?: RunEvents | null; pollMs?: number } = {},
): Promise<AsyncIterableIterator<ProgressReport>> {
  const run = await getRun(store, runId);
  const queue: ProgressReport[] = [];
  let wake: (() => void) | null = null;
  let status = run.status;
  let done = false;
  let statusSent = false;
  // Steps and epochs are emitted in order once: from events or from persisted rows, whichever comes first.
  let lastStep = -1;
  let lastEpoch = -1;
  let lastSeq = await lastCurveSeq(store, runId);

  const push = (r: ProgressReport) => {
    if (done) return;
    if (r.kind === "STEP") {
      if ((r.step ?? 0) <= lastStep) return;
      lastStep = r.step ?? lastStep;
    }
    if (r.kind === "EPOCH") {
      if ((r.epoch ?? 0) <= lastEpoch) return;
      lastEpoch = r.epoch ?? lastEpoch;
    }
    if (r.kind === "STATUS") {
      if (statusSent && r.status === status) return;
      statusSent = true;
      status = r.status;
    }
    queue.push(r);
    wake?.();
  };

  push(report(runId, "STATUS", run.status, null, run.error));
  const unsubscribe =
    options.events?.subscribe((e: RunEvent) => {
      if (e.runId !== runId) return;
      if (e.kind === "status") push(report(runId, "STATUS", e.status, null, e.error ?? null));
      else push(report(runId, e.kind === "step" ? "STEP" : "EPOCH", status, e.progress as unknown as Values));
    }) ?? (() => undefined);

  let polling = false;
  const poll = async () => {
    if (polling || done) return;
    polling = true;
    try {
      const rows = await runCurves(store, runId, lastSeq);
      for (const r of rows) {
        lastSeq = r.seq;
        push(report(runId, r.kind === "epoch" ? "EPOCH" : "STEP", status, r.values as Values));
      }
      const now = await runStatus(store, runId);
      if (now && now.status !== status) push(report(runId, "STATUS", now.status, null, now.error));
    } catch {
      // the next poll tries again
    } finally {
      polling = false;
    }
  };
  const timer = setInterval(() => void poll(), options.pollMs ?? 500);

  const finish = () => {
    done = true;
    clearInterval(timer);
    unsubscribe();
    wake?.();
  };

  const iterator: AsyncIterableIterator<ProgressReport> = {
    async next() {
      for (;;) {
        const r = queue.shift();
        if (r) {
          if (r.kind === "STATUS" && hasEnded(r.status)) finish();
          return { value: r, done: false };
        }
        if (done) return { value: undefined, done: true };
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    },
    async return() {
      finish();
      queue.length = 0;
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
