import { EventEmitter } from "node:events";
import type { EpochProgress, StepProgress } from "../train/trainer";
import type { RunStatus } from "../store/runs";

export type RunEvent =
  | { runId: string; kind: "step"; progress: StepProgress & { etaSeconds: number | null } }
  | { runId: string; kind: "epoch"; progress: EpochProgress }
  | { runId: string; kind: "status"; status: RunStatus; error?: string };

/** In-process publication of run progress (the API's subscription listens here). */
export class RunEvents {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  publish(event: RunEvent): void {
    this.emitter.emit("event", event);
  }
  subscribe(listener: (event: RunEvent) => void): () => void {
    this.emitter.on("event", listener);
    return () => this.emitter.off("event", listener);
  }
}
