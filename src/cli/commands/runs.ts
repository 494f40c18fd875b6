import type { Command } from "commander";
import { log } from "../../log";
import { cancel, getRun, listRuns, runCurves, startRun, activateRun, type RunView } from "../../jobs/runs";
import { RunWorker } from "../../jobs/worker";
import { countOpenRuns, type RunStatus } from "../../store/runs";
import { openStore, type Store } from "../../store/store";
import { withStore } from "../store";
import { exitOnSignals } from "../signals";

const STATUSES = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"];

function keyMetrics(r: RunView): string {
  const m = r.metrics as {
    test?: { model?: { l2: number; cosine: number; hr10: number } };
    activeUnits?: number;
    latentUnits?: number;
  } | null;
  const t = m?.test?.model;
  const p = r.progress as { epoch?: number; epochs?: number; step?: number; totalSteps?: number; etaSeconds?: number | null } | null;
  if (t)
    return `L2 ${t.l2.toFixed(3)}  cos ${t.cosine.toFixed(3)}  HR@10 ${t.hr10.toFixed(3)}${m?.latentUnits ? `  active ${m.activeUnits}/${m.latentUnits}` : ""}`;
  if (r.status === "RUNNING" && p?.step)
    return `epoch ${p.epoch}/${p.epochs}  step ${p.step}${p.totalSteps ? `/${p.totalSteps}` : ""}${p.etaSeconds != null ? `  ETA ${p.etaSeconds}s` : ""}`;
  if (r.status === "QUEUED") return `queue position ${r.queuePosition}`;
  return r.error ?? "";
}

export function registerRuns(program: Command): void {
  program
    .command("enqueue <model>")
    .description("queue a training run of a shipped spec (name) or a spec file; a worker (the server, or rubato worker) trains it")
    .option("--seed <n>", "training seed", (v) => Number(v))
    .option("--set <json>", 'overrides as JSON, e.g. \'{"training":{"epochs":3}}\'')
    .action((model: string, opts: { seed?: number; set?: string }) =>
      withStore(async (store) => {
        const run = await startRun(store, { model, files: true, seed: opts.seed, overrides: opts.set ? JSON.parse(opts.set) : undefined });
        for (const w of run.warnings) console.error(`warning: ${w}`);
        console.log(`queued run ${run.id} (${run.modelName}, seed ${run.seed}, data up to ${run.dataCutoff.toISOString()})`);
      }),
    );

  const runs = program
    .command("runs")
    .description("list training runs with status and key metrics")
    .option("--status <status>", `only runs in this status (${STATUSES.join(", ")})`)
    .option("--limit <n>", "at most this many", "20")
    .action((opts: { status?: string; limit: string }) =>
      withStore(async (store) => {
        const status = opts.status?.toUpperCase();
        if (status && !STATUSES.includes(status)) throw new Error(`--status expects one of ${STATUSES.join(", ")}, got "${opts.status}"`);
        const list = await listRuns(store, { status: status as RunStatus | undefined, limit: Number(opts.limit) });
        if (!list.length) return console.log("no runs yet: rubato enqueue fs-vae-quick");
        for (const r of list) {
          console.log(
            `${r.id}  ${r.status.padEnd(9)}  ${r.modelName.padEnd(20)}  ${r.createdAt.toISOString().slice(0, 19)}  ${keyMetrics(r)}${r.active ? "  (active)" : ""}`,
          );
        }
      }),
    );
  runs
    .command("show <id>")
    .description("one run: spec, status, progress, metrics, error")
    .option("--curves", "also print the run's step and epoch history")
    .action((id: string, opts: { curves?: boolean }) =>
      withStore(async (store) => {
        const r = await getRun(store, id);
        const { specYaml, ...rest } = r;
        console.log(JSON.stringify(rest, null, 2));
        console.log(`--- spec (resolved, hash ${r.specHash.slice(0, 12)})\n${specYaml}`);
        if (opts.curves) for (const c of await runCurves(store, id)) console.log(JSON.stringify(c));
      }),
    );
  runs
    .command("cancel <id>")
    .description("cancel a run: at once when queued, within one training step when running (its last checkpoint is kept)")
    .action((id: string) =>
      withStore(async (store) => {
        const status = await cancel(store, id);
        console.log(status === "RUNNING" ? `cancel requested: run ${id} stops within one step` : `run ${id} is ${status}`);
      }),
    );
  runs
    .command("activate <id>")
    .description("make a successful run the model serving uses (default: the newest successful run)")
    .action((id: string) =>
      withStore(async (store) => {
        await activateRun(store, id);
        console.log(`run ${id} is active`);
      }),
    );

  program
    .command("worker")
    .description("claim and train queued runs (against a PostgreSQL server, run as many as you like, on any machine)")
    .option("--concurrency <n>", "runs trained at once by this worker", "1")
    .option("--once", "exit when no run is queued or running")
    .option("--checkpoint-every <steps>", "also checkpoint every N steps (default: every epoch)")
    .action(async (opts: { concurrency: string; once?: boolean; checkpointEvery?: string }) => {
      // Signals are handled from the first moment: one that comes while the store opens closes it once open.
      let opening: Promise<Store> | null = null;
      let worker: RunWorker | null = null;
      let stopping: Promise<void> | null = null;
      const stop = () =>
        (stopping ??= (async () => {
          const opened = await opening?.catch(() => null);
          await worker?.stop();
          await opened?.close();
        })());
      // A second signal, or a stop that outlasts the grace period, exits at once.
      exitOnSignals(stop);
      opening = openStore();
      const store = await opening;
      if (stopping) return;
      worker = new RunWorker(store, {
        concurrency: Number(opts.concurrency),
        exclusive: store.backend === "pglite",
        checkpointEverySteps: opts.checkpointEvery ? Number(opts.checkpointEvery) : undefined,
        log: (message, fields) => log.info(fields ?? {}, message),
      });
      await worker.start();
      log.info({ worker: worker.id, backend: store.backend }, "worker started");
      if (opts.once) {
        const check = setInterval(async () => {
          if (stopping) return;
          // Drained: nothing queued, and nothing running (an interrupted run is re-queued first).
          const open = await countOpenRuns(store);
          if (worker.busy === 0 && open === 0) {
            clearInterval(check);
            await stop();
            process.exit(0);
          }
        }, 1000);
      }
    });
}
