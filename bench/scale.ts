/**
 * npm run bench:scale — the whole path at the paper's scale (issue 14): wall
 * seconds and peak RSS of every phase, each phase its own process of the real
 * CLI where the CLI has the command, so each peak is that phase's alone.
 *
 *   npm run bench:scale -- [--users 150000] [--tracks 100000] [--days 28] [--seed 1]
 *                          [--store DIR] [--phases generate,embed,...] [--json FILE]
 *                          [--clients 16] [--seconds 8] [--threads auto|N] [--keep]
 *                          [--resume RUN_ID] [--record-train STDERR_FILE,REPORT_FILE]
 *
 * Phases, in order (--phases runs a subset; the store must then hold what the
 * skipped ones would have made):
 *   generate  rubato demo-data --users U --tracks T --days D (generate and import)
 *   embed     rubato embed-tracks --overwrite (co-occurrence: the demo world's own
 *             embeddings are replaced by learnt ones of the same dimension; later
 *             phases train and search on those)
 *   dataset   the training dataset of fs-vae-quick alone: this file as a child
 *             (--child-dataset) calling loadTrainingData, as train and the worker do
 *   train     rubato eval --models fs-vae-quick --seeds 1 --epochs 1 --fresh with
 *             training.threads T (--threads, default auto = data-parallel on every
 *             core): the worker's path, one process for dataset, one epoch, test
 *             evaluation and every user's embedding materialised; each stage's seconds
 *             come from the worker's log lines. Its run is the model served next.
 *             --resume RUN_ID: rubato train --resume RUN_ID --json instead, for a run an
 *             earlier train phase left part-way (its epochs' figures from the run's
 *             history); --record-train: the same figures from such a command run outside
 *             the bench under /usr/bin/time -v (its stderr file, its stdout file)
 *   serve     rubato serve (no demo, no worker, no default models) until /health
 *             answers and a first userEmbedding works; peak RSS at that point
 *   queries   userEmbedding, similarTracks by user and by track at --clients
 *             (default 16) for --seconds each (bench/serve.ts's client): p50, p99,
 *             req/s; the server's peak RSS after them
 *
 * The store is a fresh temp dir, removed at the end unless --keep (or when a
 * phase fails: its log is there), or --store DIR (always kept; generate refuses
 * a DIR that already holds a store). Peak RSS is the kernel's maximum
 * resident set of the phase's process: GNU time's %M where /usr/bin/time is
 * GNU time, else VmHWM of /proc/PID/status sampled every 100 ms (the server's
 * always so, read while it runs). Each child's stderr goes to DIR/logs/PHASE.log.
 * A progress line per phase (and every minute while one runs); a table at the
 * end; the figures as JSON in --json FILE (default
 * bench/results/scale-<users>u-<tracks>t-<days>d.json). A FILE an earlier run of
 * the same world wrote keeps its figures for the phases this run skips, so a
 * store continued with --store DIR --phases ... completes the same file.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { HAS_EMBEDDING } from "../src/store/catalog";
import { openStore } from "../src/store/store";
import { loadSpec } from "../src/spec";
import { loadTrainingData } from "../src/train/data";
import { datasetBytes } from "../src/features/dataset";
import { drive, OPERATIONS, post } from "./serve";
import { machine, phaseNotes, type QueryResult, type ScalePhase } from "./record";

const ROOT = path.resolve(__dirname, "..");
const CLI = path.join(ROOT, "bin/rubato.js");
const NODE_FLAGS = ["--max-semi-space-size=64"];
const PHASES = ["generate", "embed", "dataset", "train", "serve", "queries"] as const;
type Phase = (typeof PHASES)[number];
const MODEL = "fs-vae-quick";
const KEY = "bench-scale-key";

interface Options {
  users: number;
  tracks: number;
  days: number;
  seed: number;
  store: string | null;
  phases: Phase[];
  json: string;
  clients: number;
  seconds: number;
  /** training.threads of the train phase. */
  threads: string;
  /** Keep the temp store afterwards (a --store DIR is always kept). */
  keep: boolean;
  /** The train phase resumes this run (rubato train --resume) instead of starting one. */
  resume: string | null;
  /** Record the train phase from a finished `rubato train --resume` process's stderr and stdout files, without running it. */
  recordTrain: [string, string] | null;
}

function parseArgs(argv: string[]): Options {
  const value = (name: string): string | undefined => {
    const eq = argv.find((a) => a.startsWith(`--${name}=`));
    if (eq) return eq.slice(name.length + 3);
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const int = (name: string, dflt: number) => {
    const text = value(name);
    const n = text === undefined ? dflt : Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} expects a positive integer, got "${text}"`);
    return n;
  };
  const phases = (value("phases") ?? PHASES.join(",")).split(",").map((p) => p.trim()) as Phase[];
  const unknown = phases.filter((p) => !PHASES.includes(p));
  if (unknown.length) throw new Error(`--phases: unknown ${unknown.join(", ")}; expected some of ${PHASES.join(",")}`);
  const users = int("users", 150_000);
  const tracks = int("tracks", 100_000);
  const days = int("days", 28);
  const recordTrain = value("record-train");
  if (recordTrain && recordTrain.split(",").length !== 2) throw new Error("--record-train expects STDERR_FILE,REPORT_FILE");
  return {
    users,
    tracks,
    days,
    seed: int("seed", 1),
    store: value("store") ?? null,
    phases: PHASES.filter((p) => phases.includes(p)),
    json: value("json") ?? path.join(ROOT, "bench/results", `scale-${users}u-${tracks}t-${days}d.json`),
    clients: int("clients", 16),
    seconds: int("seconds", 8),
    threads: value("threads") ?? "auto",
    keep: argv.includes("--keep"),
    resume: value("resume") ?? null,
    recordTrain: recordTrain ? (recordTrain.split(",") as [string, string]) : null,
  };
}

type PhaseResult = ScalePhase<Phase>;

/** What `rubato train --json` prints that the train phase records. */
interface TrainReport {
  runId: string;
  training: { history: { epoch: number; seconds: number; samplesPerSecond: number }[] } | null;
  test: { rows: number; model: { l2: number; hr10: number }; average: { l2: number; hr10: number }; recent: { l2: number; hr10: number } } | null;
}

/**
 * The train phase's figures: each stage's seconds from the worker's log lines; with a
 * `rubato train --json` report, the epochs' seconds and rate from the run's history (an
 * epoch a resumed run trained in an earlier process keeps the figures measured there).
 */
function trainDetails(logText: string, report: TrainReport | null): Record<string, unknown> {
  const stage = (re: RegExp) => {
    const m = re.exec(logText);
    return m ? Number(m[1]) : null;
  };
  const first = report?.training?.history[0];
  const t = report?.test;
  return {
    datasetSeconds: stage(/dataset built in ([\d.]+) s/),
    trainAndTestSeconds: stage(/trained in ([\d.]+) s/),
    // A resumed run's "steps in" is this process's share: its test, when the epoch ran before.
    epochStepSeconds: report ? null : stage(/steps in ([\d.]+) s/),
    epochSeconds: first ? round(first.seconds, 1) : stage(/epoch 1\/\d+ in ([\d.]+) s/),
    epochSamplesPerSecond: first ? Math.round(first.samplesPerSecond) : stage(/epoch 1\/\d+ in [\d.]+ s \((\d+) samples\/s\)/),
    testRows: stage(/test metrics on (\d+) rows/),
    embeddingsSeconds: stage(/user embeddings stored in ([\d.]+) s/),
    ...(report ? { resumedRun: report.runId } : {}),
    ...(t ? { test: { l2: t.model.l2, hr10: t.model.hr10, averageL2: t.average.l2, recentL2: t.recent.l2, recentHr10: t.recent.hr10 } } : {}),
  };
}

const mb = (kb: number) => Math.round(kb / 1024);
const log = (line: string) => console.error(`bench:scale: ${line}`);

/** GNU time's -f %M (maximum resident set, KB) works here. */
function gnuTime(): boolean {
  const out = path.join(os.tmpdir(), `rubato-bench-scale-time-${process.pid}`);
  try {
    const r = spawnSync("/usr/bin/time", ["-f", "%M", "-o", out, "true"], { stdio: "ignore" });
    return r.status === 0 && /^\d+\s*$/.test(fs.readFileSync(out, "utf8"));
  } catch {
    return false;
  } finally {
    fs.rmSync(out, { force: true });
  }
}

/** A field of /proc/PID/status in KB (VmHWM: peak resident set so far, VmRSS: now); null when gone. */
function procKb(pid: number, field: "VmHWM" | "VmRSS"): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The node process of a phase: the child itself, or GNU time's child. */
function nodePid(child: ChildProcess, wrapped: boolean): number | null {
  if (!wrapped) return child.pid ?? null;
  try {
    const kids = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(/\s+/);
    return kids[0] ? Number(kids[0]) : null;
  } catch {
    return null;
  }
}

class Bench {
  readonly results: PhaseResult[] = [];
  readonly queries: QueryResult[] = [];
  private readonly time = gnuTime();
  readonly rssMethod = this.time ? "GNU time %M (kernel maximum resident set)" : "VmHWM of /proc/PID/status, sampled every 100 ms";

  constructor(
    readonly o: Options,
    readonly dir: string,
  ) {
    fs.mkdirSync(path.join(dir, "logs"), { recursive: true });
  }

  get env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      RUBATO_DATA_DIR: this.dir,
      RUBATO_API_KEY: KEY,
      RUBATO_LOG_LEVEL: process.env.RUBATO_LOG_LEVEL ?? "info",
      NODE_ENV: "production",
      SWC_NODE_PROJECT: path.join(ROOT, "tsconfig.json"),
    };
  }

  /** Runs one phase to its end: wall seconds, peak RSS, stdout. Throws (with the log's tail) when it fails. */
  async run(phase: Phase, label: string, nodeArgs: string[], env: NodeJS.ProcessEnv = {}): Promise<{ seconds: number; peakKb: number | null; stdout: string }> {
    const index = this.o.phases.indexOf(phase) + 1;
    const logFile = path.join(this.dir, "logs", `${phase}.log`);
    const rssFile = path.join(this.dir, "logs", `${phase}.rss`);
    log(`[${index}/${this.o.phases.length}] ${phase}: ${label} ...`);
    const argv = [...NODE_FLAGS, ...nodeArgs];
    const child = this.time
      ? spawn("/usr/bin/time", ["-f", "%M", "-o", rssFile, process.execPath, ...argv], {
          env: { ...this.env, ...env },
          stdio: ["ignore", "pipe", fs.openSync(logFile, "w")],
        })
      : spawn(process.execPath, argv, { env: { ...this.env, ...env }, stdio: ["ignore", "pipe", fs.openSync(logFile, "w")] });
    let stdout = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d));
    const started = performance.now();
    let sampled: number | null = null;
    const sample = setInterval(() => {
      const pid = nodePid(child, this.time);
      const hwm = pid ? procKb(pid, "VmHWM") : null;
      if (hwm !== null) sampled = Math.max(sampled ?? 0, hwm);
    }, 100);
    const heartbeat = setInterval(() => {
      const pid = nodePid(child, this.time);
      const rss = pid ? procKb(pid, "VmRSS") : null;
      log(`    ${phase}: ${((performance.now() - started) / 1000).toFixed(0)} s${rss ? `, RSS ${mb(rss)} MB` : ""}`);
    }, 60_000);
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sample);
    clearInterval(heartbeat);
    let peakKb: number | null = sampled;
    if (this.time && fs.existsSync(rssFile)) {
      const m = /(\d+)\s*$/.exec(fs.readFileSync(rssFile, "utf8"));
      if (m) peakKb = Number(m[1]);
    }
    if (code !== 0) {
      const tail = fs.readFileSync(logFile, "utf8").trimEnd().split("\n").slice(-30).join("\n");
      throw new Error(`${phase} (${label}) exited with ${code} after ${seconds.toFixed(1)} s; ${logFile} ends:\n${tail}`);
    }
    log(`    ${phase}: ${seconds.toFixed(1)} s, peak RSS ${peakKb === null ? "?" : `${mb(peakKb)} MB`}`);
    return { seconds, peakKb, stdout };
  }

  record(phase: Phase, command: string, r: { seconds: number; peakKb: number | null }, details: Record<string, unknown> = {}) {
    this.results.push({
      phase,
      command,
      wallSeconds: round(r.seconds, 2),
      peakRssMb: r.peakKb === null ? null : mb(r.peakKb),
      details,
      finishedAt: new Date().toISOString(),
      loadAverage: round(os.loadavg()[0], 2),
    });
  }

  async cli(phase: Phase, args: string[], env: NodeJS.ProcessEnv = {}) {
    const command = `rubato ${args.map((a) => (/[^\w,.=/-]/.test(a) ? `'${a}'` : a)).join(" ")}`;
    return { command, ...(await this.run(phase, command, [CLI, ...args], env)) };
  }

  async generate() {
    const { users, tracks, days, seed } = this.o;
    const r = await this.cli("generate", ["demo-data", "--users", `${users}`, "--tracks", `${tracks}`, "--days", `${days}`, "--seed", `${seed}`]);
    const inserted = /events inserted (\d+)/.exec(r.stdout)?.[1];
    const usersCreated = /users created (\d+)/.exec(r.stdout)?.[1];
    this.record("generate", r.command, r, {
      plays: inserted ? Number(inserted) : null,
      users: usersCreated ? Number(usersCreated) : null,
      output: r.stdout.trim(),
    });
  }

  async embed() {
    const r = await this.cli("embed", ["embed-tracks", "--overwrite", "--json"]);
    const report = JSON.parse(r.stdout) as {
      plays: number;
      pairs: number;
      nonzeros: number;
      factorised: number;
      seconds: Record<string, number>;
    };
    this.record("embed", r.command, r, {
      plays: report.plays,
      pairs: report.pairs,
      nonzeros: report.nonzeros,
      factorised: report.factorised,
      seconds: report.seconds,
    });
  }

  async dataset() {
    const command = `loadTrainingData(${MODEL}) (bench/scale.ts --child-dataset)`;
    const r = await this.run("dataset", command, ["-r", "@swc-node/register", __filename, "--child-dataset"]);
    this.record("dataset", command, r, JSON.parse(r.stdout) as Record<string, unknown>);
  }

  async train() {
    if (this.o.resume) {
      // A run an earlier train phase left part-way (stopped, or its process killed) goes on from its checkpoint.
      const r = await this.cli("train", ["train", "--resume", this.o.resume, "--json"], { RUBATO_LOG_LEVEL: "debug" });
      const logText = fs.readFileSync(path.join(this.dir, "logs", "train.log"), "utf8");
      this.record("train", r.command, r, trainDetails(logText, JSON.parse(r.stdout) as TrainReport));
      return;
    }
    const out = path.join(this.dir, "logs", "train.json");
    const set = JSON.stringify({ training: { threads: this.o.threads === "auto" ? "auto" : Number(this.o.threads) } });
    const args = ["eval", "--models", MODEL, "--seeds", "1", "--epochs", "1", "--fresh", "--set", set, "--out", out];
    const r = await this.cli("train", args, { RUBATO_LOG_LEVEL: "debug" });
    const json = JSON.parse(fs.readFileSync(out, "utf8")) as { seconds: number; failed: number };
    const logText = fs.readFileSync(path.join(this.dir, "logs", "train.log"), "utf8");
    this.record("train", r.command, r, { ...trainDetails(logText, null), evaluationSeconds: round(json.seconds, 2), failed: json.failed });
  }

  /**
   * The train phase from a `rubato train --resume RUN --json` that ran outside the bench under
   * `/usr/bin/time -v` (its stderr: the worker's log lines, then GNU time's report), and its stdout.
   */
  recordTrain(stderrFile: string, reportFile: string) {
    const logText = fs.readFileSync(stderrFile, "utf8");
    const report = JSON.parse(fs.readFileSync(reportFile, "utf8")) as TrainReport;
    const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(logText);
    const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(logText);
    if (!wall || !rss) throw new Error(`${stderrFile}: no GNU time -v report (wall clock, maximum resident set)`);
    const seconds = Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]);
    const command = `rubato train --resume ${report.runId} --json (run outside the bench under /usr/bin/time -v; recorded from ${path.basename(stderrFile)})`;
    this.record("train", command, { seconds, peakKb: Number(rss[1]) }, trainDetails(logText, report));
  }

  /** serve (start-up) and queries: one server process, read by /proc while it runs. */
  async serve(doServe: boolean, doQueries: boolean) {
    const { users, tracks } = await this.ids();
    const command = "rubato serve --port 0 --no-demo --no-worker --no-default-models";
    const phase: Phase = doServe ? "serve" : "queries";
    log(`[${this.o.phases.indexOf(phase) + 1}/${this.o.phases.length}] ${phase}: ${command} ...`);
    const logFile = path.join(this.dir, "logs", "serve.log");
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [...NODE_FLAGS, CLI, "serve", "--port", "0", "--no-demo", "--no-worker", "--no-default-models"],
      { env: this.env, stdio: ["ignore", "ignore", "pipe"] },
    );
    const logStream = fs.createWriteStream(logFile);
    let err = "";
    let warm: { seconds: number; users: number; at: number } | null = null;
    const exited = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr!.on("data", (d: Buffer) => {
          logStream.write(d);
          err += d;
          const m = /"graphql":"([^"]+)"/.exec(err);
          if (m) resolve(m[1]);
          // app.ts logs the warm-up (model, search index, history prefill) when it ends.
          const w = /"prefilledUsers":(\d+),"warmSeconds":([\d.]+)/.exec(err);
          if (w && !warm) warm = { users: Number(w[1]), seconds: Number(w[2]), at: (performance.now() - started) / 1000 };
        });
        void exited.then((code) => reject(new Error(`rubato serve exited with ${code}; ${logFile}:\n${err.slice(-3000)}`)));
      });
      const listening = (performance.now() - started) / 1000;
      const health = url.replace(/\/graphql$/, "/health");
      for (;;) {
        const ok = await fetch(health).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const healthy = (performance.now() - started) / 1000;
      await post(url, `query($u: ID!) { userEmbedding(userId: $u) { mu } }`, { u: users[0] });
      const firstEmbedding = (performance.now() - started) / 1000;
      const pid = child.pid!;
      if (doServe) {
        const r = { seconds: firstEmbedding, peakKb: procKb(pid, "VmHWM") };
        log(`    serve: first userEmbedding after ${firstEmbedding.toFixed(1)} s, peak RSS ${r.peakKb ? mb(r.peakKb) : "?"} MB`);
        this.record("serve", command, r, {
          listeningSeconds: round(listening, 2),
          healthSeconds: round(healthy, 2),
          firstUserEmbeddingSeconds: round(firstEmbedding, 2),
          note: "wall = spawn to the first userEmbedding answered; the history cache's warm-up may still run",
        });
      }
      if (doQueries) {
        if (doServe) log(`[${this.o.phases.indexOf("queries") + 1}/${this.o.phases.length}] queries: ${this.o.clients} clients ...`);
        const t0 = performance.now();
        for (const [name, make] of Object.entries(OPERATIONS)) {
          const m = await drive(url, this.o.clients, make(users, tracks), this.o.seconds);
          const q = { operation: name, clients: this.o.clients, p50Ms: m.p50, p99Ms: m.p99, reqPerS: Math.round(m.rps), failed: m.failed };
          this.queries.push(q);
          log(`    ${name} c${this.o.clients}: p50 ${m.p50} ms, p99 ${m.p99} ms, ${q.reqPerS} req/s${m.failed ? `, ${m.failed} failed` : ""}`);
        }
        const r = { seconds: (performance.now() - t0) / 1000, peakKb: procKb(pid, "VmHWM") };
        this.record("queries", `${Object.keys(OPERATIONS).join(", ")} at ${this.o.clients} clients, ${this.o.seconds} s each`, r, {
          operations: this.queries,
          note: "peak RSS: the server process since its start",
        });
      }
      const serve = this.results.find((x) => x.phase === "serve");
      const done = warm as { seconds: number; users: number; at: number } | null;
      if (serve) serve.details.warmUp = done ? { ...done, at: round(done.at, 2) } : "not finished";
    } finally {
      child.kill("SIGTERM");
      await exited;
      logStream.end();
    }
  }

  /** External ids of users and of tracks with an embedding, read before the server opens the store (one process per PGlite dir). */
  private async ids(): Promise<{ users: string[]; tracks: string[] }> {
    const store = await openStore({ backend: "pglite", location: path.join(this.dir, "pgdata") });
    try {
      const users = (await store.sql.query<{ external_id: string }>("SELECT external_id FROM app_user ORDER BY id")).map((r) => r.external_id);
      const tracks = (
        await store.sql.query<{ external_id: string }>(`SELECT external_id FROM track WHERE ${HAS_EMBEDDING} ORDER BY id`)
      ).map((r) => r.external_id);
      if (!users.length || !tracks.length) throw new Error(`the store in ${this.dir} has no users or no embedded tracks: run generate first`);
      return { users, tracks };
    } finally {
      await store.close();
    }
  }
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  // First and last columns to the left (names, notes), numbers to the right.
  const left = (i: number) => i === 0 || (i === widths.length - 1 && rows[0][i] === "notes");
  return rows.map((r) => r.map((c, i) => (left(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ").trimEnd()).join("\n");
}

async function childDataset() {
  const spec = loadSpec(MODEL);
  if (!spec.ok) throw new Error(`cannot load ${MODEL}`);
  const store = await openStore();
  try {
    const t0 = performance.now();
    const { dataset, catalogue } = await loadTrainingData(store, spec.spec);
    const seconds = (performance.now() - t0) / 1000;
    const bytes = datasetBytes(dataset);
    console.log(
      JSON.stringify({
        users: dataset.counts.users,
        plays: dataset.counts.events,
        tracks: catalogue.externalIds.length,
        rows: { train: dataset.rows.train.length, validation: dataset.rows.validation.length, test: dataset.rows.test.length },
        buildSeconds: round(seconds, 2),
        typedArrayMb: Math.round(bytes / 2 ** 20),
        bytesPerPlay: Math.round(bytes / Math.max(1, dataset.counts.events)),
      }),
    );
  } finally {
    await store.close();
  }
}

/**
 * The figures an earlier run of the same world left in --json, for the phases this run
 * skips (a store kept with --store goes on with later phases): each keeps the time it
 * finished (that run's start when older files lack it).
 */
function earlierFigures(o: Options): { phases: PhaseResult[]; queries: QueryResult[] } {
  if (!fs.existsSync(o.json)) return { phases: [], queries: [] };
  const old = JSON.parse(fs.readFileSync(o.json, "utf8")) as {
    world: { users: number; tracks: number; days: number; seed: number };
    startedAt: string;
    machine?: { loadAverage?: { end?: number } };
    phases: PhaseResult[];
    queries?: QueryResult[];
  };
  const w = old.world;
  if (w.users !== o.users || w.tracks !== o.tracks || w.days !== o.days || w.seed !== o.seed) return { phases: [], queries: [] };
  const phases = old.phases
    .filter((p) => !o.phases.includes(p.phase))
    .map((p) => ({ ...p, finishedAt: p.finishedAt ?? old.startedAt, loadAverage: p.loadAverage ?? old.machine?.loadAverage?.end }));
  return { phases, queries: old.queries ?? [] };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const dir = o.store ? path.resolve(o.store) : fs.mkdtempSync(path.join(os.tmpdir(), "rubato-bench-scale-"));
  if (o.phases.includes("generate") && fs.existsSync(path.join(dir, "pgdata")))
    throw new Error(`${dir} already holds a store: generate needs a fresh one (another --store, or leave generate out of --phases)`);
  const bench = new Bench(o, dir);
  log(
    `${o.users} users, ${o.tracks} tracks, ${o.days} days (seed ${o.seed}); store ${dir}; phases ${o.phases.join(",")}; ` +
      `peak RSS by ${bench.rssMethod}; ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GB`,
  );
  const started = new Date();
  const loadAtStart = os.loadavg()[0];
  const earlier = earlierFigures(o);
  const figures = () => ({
    world: { users: o.users, tracks: o.tracks, days: o.days, seed: o.seed },
    // The machine is shared: its 1-minute load when the bench began and ended.
    machine: machine(loadAtStart),
    startedAt: started.toISOString(),
    store: dir,
    rssMethod: bench.rssMethod,
    // Phases this run did not repeat keep the figures an earlier run of the same world wrote here.
    phases: [...earlier.phases, ...bench.results].sort((a, b) => PHASES.indexOf(a.phase) - PHASES.indexOf(b.phase)),
    queries: o.phases.includes("queries") ? bench.queries : earlier.queries,
  });
  fs.mkdirSync(path.dirname(path.resolve(o.json)), { recursive: true });
  for (const phase of o.phases) {
    if (phase === "generate") await bench.generate();
    else if (phase === "embed") await bench.embed();
    else if (phase === "dataset") await bench.dataset();
    else if (phase === "train" && o.recordTrain) bench.recordTrain(...o.recordTrain);
    else if (phase === "train") await bench.train();
    else if (phase === "serve") await bench.serve(true, o.phases.includes("queries"));
    else if (phase === "queries" && !o.phases.includes("serve")) await bench.serve(false, true);
    // After every phase, so a run stopped part-way keeps the figures of the phases it finished.
    fs.writeFileSync(o.json, `${JSON.stringify(figures(), null, 2)}\n`);
  }
  console.log(
    `\nbench:scale ${o.users} users, ${o.tracks} tracks, ${o.days} days ` +
      `(${os.cpus().length} cores, load average ${loadAtStart.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end)\n`,
  );
  console.log(
    table([
      ["phase", "wall s", "peak RSS MB", "notes"],
      ...bench.results.map((r) => [r.phase, r.wallSeconds.toFixed(1), r.peakRssMb === null ? "?" : String(r.peakRssMb), phaseNotes(r)]),
    ]),
  );
  if (bench.queries.length) {
    console.log("");
    console.log(
      table([
        ["operation", "clients", "p50 ms", "p99 ms", "req/s", "failed"],
        ...bench.queries.map((q) => [q.operation, String(q.clients), q.p50Ms.toFixed(1), q.p99Ms.toFixed(1), String(q.reqPerS), String(q.failed)]),
      ]),
    );
  }
  console.log(`\nfigures: ${path.relative(process.cwd(), path.resolve(o.json))}`);
  if (o.store || o.keep) log(`the store and the phases' logs stay in ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
}

(process.argv.includes("--child-dataset") ? childDataset() : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});
