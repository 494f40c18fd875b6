/**
 * A worker claims queued runs and executes them, up to `concurrency` at once.
 * The server process runs one in-process (training happens in threads, off the
 * API's event loop); `rubato worker` runs the same code as its own process,
 * as many as you like, on one or many machines, against a PostgreSQL server.
 */
import crypto from "node:crypto";
import os from "node:os";
import type { Store } from "../store/store";
import { RunEvents } from "./events";
import { executeRun } from "./execute";
import { claimRun, requeueExpired, requeueOrphans } from "../store/run-queue";

export interface WorkerOptions {
  /** Runs trained at once by this worker (default 1). */
  concurrency?: number;
  /** How often to look for queued runs (default 1 s). */
  pollMs?: number;
  heartbeatMs?: number;
  /** A RUNNING run whose heartbeat is older than this is re-queued (default RUBATO_HEARTBEAT_TIMEOUT_MS, else 30 s). */
  heartbeatTimeoutMs?: number;
  /**
   * The store belongs to this process alone (embedded PGlite): every RUNNING run
   * at start-up was left by a previous process and is re-queued at once.
   */
  exclusive?: boolean;
  checkpointEverySteps?: number;
  events?: RunEvents;
  id?: string;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

/** How old a RUNNING run's heartbeat may get before it is re-queued: RUBATO_HEARTBEAT_TIMEOUT_MS, else 30 s. */
export const heartbeatTimeoutMs = (): number => Number(process.env.RUBATO_HEARTBEAT_TIMEOUT_MS) || 30_000;

/** How often a worker beats for a timeout: well inside it, at most every 2 s. */
export const heartbeatEveryMs = (timeoutMs: number): number => Math.min(2000, timeoutMs / 3);

export class RunWorker {
  readonly id: string;
  readonly events: RunEvents;
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly shutdown = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  /** The poll in progress, if any (stop() waits for it: it may be claiming a run). */
  private polling: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly options: WorkerOptions = {},
  ) {
    this.id = options.id ?? `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString("hex")}`;
    this.events = options.events ?? new RunEvents();
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.requeue();
    if (this.stopped) return; // stop() came meanwhile
    this.timer = setInterval(() => void this.poll(), this.options.pollMs ?? 1000);
    void this.poll();
  }

  /** Looks for work now (e.g. right after a run was queued in this process). */
  wake(): void {
    void this.poll();
  }

  /**
   * Stops claiming and abandons the runs in progress as they stand (they stay RUNNING
   * and resume from their last checkpoint when a worker picks them up again); resolves
   * once nothing of theirs touches the store any more. A run claimed by a poll still in
   * progress starts with the signal aborted, so it stops at once too.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.shutdown.abort();
    await this.polling;
    await this.idle();
  }

  /** Resolves when the runs this worker holds have ended. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.race(this.running.values());
  }

  get busy(): number {
    return this.running.size;
  }

  private get timeoutMs(): number {
    return this.options.heartbeatTimeoutMs ?? heartbeatTimeoutMs();
  }

  private poll(): Promise<void> {
    if (this.stopped || this.polling) return this.polling ?? Promise.resolve();
    this.polling = this.pollOnce().finally(() => (this.polling = null));
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    try {
      await this.requeue();
      while (!this.stopped && this.running.size < (this.options.concurrency ?? 1)) {
        const run = await claimRun(this.store, this.id);
        if (!run) break;
        this.log(
          `claimed run ${run.id} (${run.modelName}, attempt ${run.attempts}${run.checkpoint ? ", resuming from its checkpoint" : ""})`,
          { runId: run.id },
        );
        this.events.publish({ runId: run.id, kind: "status", status: "RUNNING" });
        const execution = executeRun(run, {
          store: this.store,
          workerId: this.id,
          events: this.events,
          heartbeatMs: this.options.heartbeatMs ?? heartbeatEveryMs(this.timeoutMs),
          checkpointEverySteps: this.options.checkpointEverySteps,
          shutdown: this.shutdown.signal,
          log: this.options.log,
        })
          .then((outcome) => this.log(this.outcomeMessage(run.id, outcome), { runId: run.id }))
          .finally(() => {
            this.running.delete(run.id);
            this.wake();
          });
        this.running.set(run.id, execution);
      }
    } catch (err) {
      this.log(`worker poll failed: ${(err as Error).message}`);
    }
  }

  /** "LOST" alone reads like lost work: say what happens to the run. */
  private outcomeMessage(runId: string, outcome: string): string {
    if (outcome !== "LOST") return `run ${runId} ${outcome}`;
    return this.shutdown.signal.aborted
      ? `run ${runId} stopped with this process; it resumes from its last checkpoint when a worker starts again`
      : `run ${runId} LOST: its claim expired, so it went back to the queue and resumes from its last checkpoint`;
  }

  /**
   * Runs left RUNNING by a dead worker go back to the queue: with an exclusive store,
   * every RUNNING run this worker does not hold; otherwise those whose heartbeat expired.
   */
  private async requeue(): Promise<void> {
    const requeued = this.options.exclusive
      ? await requeueOrphans(this.store.sql, this.id)
      : await requeueExpired(this.store.sql, this.timeoutMs);
    if (requeued.length) this.log(`re-queued ${requeued.length} interrupted run(s)`, { runs: requeued });
  }

  private log(message: string, fields?: Record<string, unknown>): void {
    this.options.log?.(message, { worker: this.id, ...fields });
  }
}
