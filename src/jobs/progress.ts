import type { SqlClient } from "../store/sql";
import { recordProgress } from "../store/run-progress";
import type { EpochProgress, StepProgress } from "../train/trainer";
import type { RunEvents } from "./events";

/**
 * Persists a run's progress at a bounded rate: every epoch report, and step
 * reports at most once per `stepIntervalMs`; each persisted report is also a
 * row of the run's curve history. Every report is published to subscribers.
 */
export class ProgressRecorder {
  private seq = 0;
  private lastStepWrite = 0;
  private lastStepAt = 0;
  /** Moving average of the time between steps, for the ETA. */
  private stepSeconds = 0;
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly sql: SqlClient,
    private readonly runId: string,
    private readonly events: RunEvents,
    private readonly stepIntervalMs = 1000,
    startSeq = 0,
  ) {
    this.seq = startSeq;
  }

  step(p: StepProgress): void {
    const now = Date.now();
    if (this.lastStepAt > 0) {
      const seconds = (now - this.lastStepAt) / 1000;
      this.stepSeconds = this.stepSeconds === 0 ? seconds : 0.9 * this.stepSeconds + 0.1 * seconds;
    }
    this.lastStepAt = now;
    const etaSeconds = this.stepSeconds > 0 ? Math.round((p.totalSteps - p.step) * this.stepSeconds) : null;
    const progress = { ...p, etaSeconds };
    this.events.publish({ runId: this.runId, kind: "step", progress });
    if (now - this.lastStepWrite < this.stepIntervalMs && p.step !== p.totalSteps) return;
    this.lastStepWrite = now;
    this.write("step", p.epoch, p.step, progress);
  }

  epoch(p: EpochProgress): void {
    this.events.publish({ runId: this.runId, kind: "epoch", progress: p });
    this.write("epoch", p.epoch, p.step, p);
  }

  /** Waits until every report so far is written. */
  flush(): Promise<void> {
    return this.writes;
  }

  private write(kind: "step" | "epoch", epoch: number, step: number, values: object): void {
    const seq = ++this.seq;
    const json = JSON.stringify({ kind, ...values });
    this.writes = this.writes
      .then(async () => {
        await recordProgress(this.sql, { runId: this.runId, seq, kind, epoch, step, json });
      })
      .catch(() => undefined); // progress is best effort; the run's outcome is written separately
  }
}
