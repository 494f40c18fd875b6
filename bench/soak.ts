/**
 * npm run bench:soak — a real `rubato serve` under mixed load for minutes while a
 * model trains in it: errors, latency per operation, and whether its memory grows.
 *
 *   npm run bench:soak -- [--minutes 10] [--clients 64] [--warmup-minutes M]
 *                         [--sample-seconds 5] [--json FILE] [--fresh] [--keep]
 *
 * The store: the demo world (2,000 users, 5,000 tracks, 28 days) with fs-vae-quick
 * trained for one epoch is made once into a template in the temp dir (bench:serve's
 * trainOnWorld; --fresh makes it again) and copied into a fresh temp dir for each
 * soak, so every soak starts from the same store. `rubato serve` (with its
 * in-process worker) runs on the copy as its own process.
 *
 * Before the clock starts, a training run is started through the API
 * (startTraining: fs-vae-quick, 10,000 epochs, no early stopping) and the soak
 * waits for its first step; should it end anyway, another is started. At the end
 * it is cancelled and the server gets SIGTERM.
 *
 * --clients connections, each sending its next request when the last is answered,
 * an operation drawn by WEIGHTS (below) each time. Every answer is sorted into
 * ok, a GraphQL error with a documented code (by code), another GraphQL error, an
 * HTTP 5xx, another HTTP status, or a transport error (by kind).
 *
 * The server's RSS (VmRSS of /proc/PID/status) is sampled every --sample-seconds,
 * with its V8 heap and the memory outside it from bench/memory-probe.js, which the
 * server preloads (node -r) and which prints process.memoryUsage() on its stderr.
 * Warm-up is the first --warmup-minutes (default 1, or a fifth of a shorter soak);
 * growth is measured from its end to the end of the soak, each point the median
 * of the samples in a window (30 s, or a quarter of a shorter measured span) so
 * one GC's sawtooth does not decide it. Goal: under 5 %.
 *
 * Prints errors by kind, p50/p99 and req/s per operation, RSS (idle, at the
 * soak's start, after warm-up, at the end, a series), the training run's steps,
 * the machine's load average, and where errors fell in time; writes it all to --json (default
 * bench/results/soak.json). BENCH_SERVER_NODE_FLAGS adds flags to the server's
 * node (e.g. "--heapsnapshot-signal=SIGUSR2" to take heap snapshots of it).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { DOCUMENTED_CODES } from "../src/api/errors";
import { Rng } from "../src/random";
import { openStore } from "../src/store/store";
import { HAS_EMBEDDING } from "../src/store/catalog";
import { OPERATIONS, post, trainOnWorld } from "./serve";

const ROOT = path.resolve(__dirname, "..");
const CLI = path.join(ROOT, "bin/rubato.js");
const KEY = "bench-soak-key";
const WORLD = { users: 2000, tracks: 5000, days: 28 };
const TRAINING = { model: "fs-vae-quick", overrides: { training: { epochs: 10_000, early_stopping: { patience: 0 } } } };
const REQUEST_TIMEOUT_MS = 30_000;
/** Variables a soak records when set: glibc's malloc tunables (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_, ...) and extra flags for the server's node. */
const recordedEnvironment = (name: string) => name.startsWith("MALLOC_") || name === "BENCH_SERVER_NODE_FLAGS";

const DOCUMENTED = new Set(DOCUMENTED_CODES);

const HELP = `npm run bench:soak -- [options]

A real rubato serve on a fresh copy of the demo world, driven by --clients
connections with mixed operations for --minutes while a model trains in it.
Prints errors by kind, p50/p99 and req/s per operation, the server's RSS over
time and its growth after warm-up (the trend: goal under 5 %), the training
run's steps. glibc's MALLOC_* tunables (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_)
and BENCH_SERVER_NODE_FLAGS (extra node flags for the server, e.g. --trace-gc) are
passed on and recorded.

  --minutes N          length of the soak, warm-up included (default 10)
  --clients N          concurrent connections (default 64)
  --warmup-minutes N   the part of the soak before RSS growth is measured
                       (default 1, or a fifth of a soak shorter than 5 minutes)
  --sample-seconds N   RSS sampling interval (default 5)
  --json FILE          where the figures go (default bench/results/soak.json)
  --clients 0          no load: the training alone (with --without-training: idle)
  --without-training   no training run: the load alone (beside a soak with
                       --clients 0, it tells serving's memory from training's)
  --fresh              make the template store (demo world + one-epoch model) again
  --keep               keep the soak's store afterwards (the server's log is
                       always kept beside it, as DIR.log)
  --help               this text

Smoke run: npm run bench:soak -- --minutes 0.5 --clients 8`;

interface Options {
  minutes: number;
  clients: number;
  warmupMinutes: number;
  sampleSeconds: number;
  json: string;
  fresh: boolean;
  keep: boolean;
  training: boolean;
}

const OPTIONS = {
  minutes: { type: "string" },
  clients: { type: "string" },
  "warmup-minutes": { type: "string" },
  "sample-seconds": { type: "string" },
  json: { type: "string" },
  fresh: { type: "boolean" },
  keep: { type: "boolean" },
  "without-training": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** A wrong command line: its message and a pointer to --help, no stack. */
class UsageError extends Error {}

function options(argv: string[]): Options | null {
  const parsed = (() => {
    try {
      return parseArgs({ args: argv, strict: true, options: OPTIONS });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  })();
  const values = parsed.values;
  if (values.help) return null;
  const positive = (name: string, text: string | undefined, dflt: number, integer = false, zero = false) => {
    const n = text === undefined ? dflt : Number(text);
    if (!Number.isFinite(n) || n < 0 || (n === 0 && !zero) || (integer && !Number.isInteger(n)))
      throw new UsageError(`--${name} expects a ${zero ? "non-negative" : "positive"} ${integer ? "integer" : "number"}, got "${text}"`);
    return n;
  };
  const minutes = positive("minutes", values.minutes, 10);
  const warmupMinutes = positive("warmup-minutes", values["warmup-minutes"], Math.min(1, minutes / 5));
  if (warmupMinutes >= minutes) throw new UsageError(`--warmup-minutes (${warmupMinutes}) must be shorter than --minutes (${minutes})`);
  return {
    minutes,
    clients: positive("clients", values.clients, 64, true, true),
    warmupMinutes,
    sampleSeconds: positive("sample-seconds", values["sample-seconds"], 5),
    json: path.resolve(values.json ?? path.join(ROOT, "bench/results/soak.json")),
    fresh: values.fresh ?? false,
    keep: values.keep ?? false,
    training: !values["without-training"],
  };
}

const log = (line: string) => console.error(`bench:soak: ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, digits = 1) => Number(x.toFixed(digits));

// ---------------------------------------------------------------- the store

/** The template (demo world + fs-vae-quick for one epoch), made once; the soak's own store is a copy. */
async function template(fresh: boolean): Promise<string> {
  const dir = path.join(os.tmpdir(), `rubato-bench-soak-template-${WORLD.users}-${WORLD.tracks}-${WORLD.days}`);
  const ready = path.join(dir, "ready");
  if (fresh || !fs.existsSync(ready)) {
    fs.rmSync(dir, { recursive: true, force: true });
    log(`making the template store in ${dir} (once; --fresh makes it again)`);
    await trainOnWorld(dir, WORLD);
    fs.writeFileSync(ready, "");
  } else log(`template store: ${dir}`);
  return dir;
}

/** External ids of users and of tracks with an embedding, and the trained run, read from the template (closed again before the server opens its copy). */
async function ids(dir: string): Promise<{ users: string[]; tracks: string[]; trainedRunId: string }> {
  const store = await openStore({ backend: "pglite", location: path.join(dir, "pgdata") });
  try {
    const users = (await store.sql.query<{ external_id: string }>("SELECT external_id FROM app_user ORDER BY id")).map(
      (r) => r.external_id,
    );
    const tracks = (await store.sql.query<{ external_id: string }>(`SELECT external_id FROM track WHERE ${HAS_EMBEDDING} ORDER BY id`)).map(
      (r) => r.external_id,
    );
    const [run] = await store.sql.query<{ id: string }>(`SELECT id FROM run WHERE status = 'SUCCEEDED' ORDER BY created_at LIMIT 1`);
    return { users, tracks, trainedRunId: run.id };
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------- the server

/** A field of /proc/PID/status in KB (VmRSS: resident now, VmHWM: peak); null when the process is gone. */
function procKb(pid: number, field: "VmRSS" | "VmHWM"): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * The resident MB of each of a process's WebAssembly memories (by address), from
 * /proc/PID/smaps. V8 reserves a memory's whole 32-bit space and guard pages up front
 * (8 to 10 GB of address space, inaccessible) and makes the part in use readable and
 * writable, which splits the reservation: a memory is a read-write mapping directly
 * followed by an inaccessible one of 4 GB or more (PGlite's PostgreSQL; tfjs's wasm
 * backend in serving and in the training thread). Null when the process is gone.
 */
function wasmMemoriesMb(pid: number): number[] | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/smaps`, "utf8");
  } catch {
    return null;
  }
  const maps: { start: bigint; end: bigint; perms: string; rssKb: number }[] = [];
  for (const line of text.split("\n")) {
    const range = /^([0-9a-f]+)-([0-9a-f]+) (\S+) /.exec(line);
    if (range) maps.push({ start: BigInt(`0x${range[1]}`), end: BigInt(`0x${range[2]}`), perms: range[3], rssKb: 0 });
    else if (line.startsWith("Rss:") && maps.length) maps[maps.length - 1].rssKb = Number(/(\d+) kB/.exec(line)![1]);
  }
  const out: number[] = [];
  for (let i = 0; i + 1 < maps.length; i++) {
    const [used, rest] = [maps[i], maps[i + 1]];
    if (used.perms.startsWith("rw") && rest.perms.startsWith("---") && rest.start === used.end && rest.end - rest.start >= 4n * 1024n ** 3n)
      out.push(round(used.rssKb / 1024));
  }
  return out;
}

/** User + system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15). */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks: USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/** process.memoryUsage() of the server in MB, from bench/memory-probe.js. */
interface MemoryProbe {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

interface Server {
  child: ChildProcess;
  /** The latest memory probe line the server printed. */
  memory: () => MemoryProbe | null;
  url: string;
  exited: Promise<number | null>;
  /** Resolves when the serving warm-up (model, track index, history prefill) is logged. */
  warmed: Promise<void>;
}

function startServer(dir: string, logPath: string, probeMs: number): Promise<Server> {
  const logFile = fs.createWriteStream(logPath);
  const child = spawn(
    process.execPath,
    [
      "--max-semi-space-size=64",
      "-r",
      path.join(__dirname, "memory-probe.js"),
      ...(process.env.BENCH_SERVER_NODE_FLAGS ?? "").split(" ").filter(Boolean),
      CLI,
      "serve",
      "--port",
      "0",
      "--no-default-models",
    ],
    {
      env: {
        ...process.env,
        RUBATO_DATA_DIR: dir,
        RUBATO_API_KEY: KEY,
        RUBATO_LOG_LEVEL: "info",
        NODE_ENV: "production",
        BENCH_PROBE_MS: String(probeMs),
      },
      // stdout to the log too: what node flags print (--trace-gc) goes there.
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let memory: MemoryProbe | null = null;
  let partial = "";
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  let head = "";
  let onWarm: () => void = () => undefined;
  const warmed = new Promise<void>((resolve) => (onWarm = resolve));
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => logFile.write(d));
    child.stderr!.on("data", (d: Buffer) => {
      logFile.write(d);
      const lines = (partial + d.toString("utf8")).split("\n");
      partial = lines.pop()!;
      for (const line of lines)
        if (line.startsWith('{"memoryProbe"')) memory = (JSON.parse(line) as { memoryProbe: MemoryProbe }).memoryProbe;
      if (head.length > 200_000) return; // start-up is over; the log file keeps the rest
      head += d;
      const m = /"graphql":"([^"]+)"/.exec(head);
      if (m) resolve({ child, memory: () => memory, url: m[1], exited, warmed });
      if (head.includes("serving warmed up") || head.includes("serving warm-up failed")) onWarm();
    });
    void exited.then((code) => {
      logFile.end();
      reject(new Error(`rubato serve exited with ${code}: ${head.slice(-3000)}`));
    });
  });
}

// ---------------------------------------------------------------- the load

type Kind = "ok" | "graphql" | "graphqlUndocumented" | "http5xx" | "httpOther" | "transport" | "wrongAnswer";

interface Answer {
  kind: Kind;
  /** The error code, HTTP status or transport error; "" when ok. */
  detail: string;
}

/** One keep-alive POST of a JSON body: the status and parsed body, or a thrown transport error. */
function request(agent: http.Agent, url: URL, body: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        agent,
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${KEY}`, "content-length": Buffer.byteLength(body) },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // kept as text: judged below
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
    req.on("error", reject);
    req.end(body);
  });
}

/** Sorts an answer: 5xx first, then GraphQL errors by code, then the operation's own field missing. */
function judge(status: number, body: unknown, field: string): Answer {
  const b = (typeof body === "object" && body ? body : {}) as {
    data?: Record<string, unknown> | null;
    errors?: { extensions?: { code?: string } }[];
  };
  if (status >= 500) return { kind: "http5xx", detail: `${status} ${b.errors?.[0]?.extensions?.code ?? ""}`.trim() };
  if (Array.isArray(b.errors) && b.errors.length) {
    const code = b.errors[0].extensions?.code ?? "(no code)";
    return DOCUMENTED.has(code) ? { kind: "graphql", detail: code } : { kind: "graphqlUndocumented", detail: code };
  }
  if (status !== 200) return { kind: "httpOther", detail: String(status) };
  if (!b.data || b.data[field] === null || b.data[field] === undefined) return { kind: "wrongAnswer", detail: `no ${field}` };
  return { kind: "ok", detail: "" };
}

interface Operation {
  name: string;
  weight: number;
  /** The top-level field whose value must be there. */
  field: string;
  body: (i: number, rng: Rng) => string;
}

/** The mix (weights out of 100). */
function operations(users: string[], tracks: string[], runId: () => string, cursors: string[]): Operation[] {
  const byName = (name: keyof typeof OPERATIONS) => OPERATIONS[name](users, tracks);
  let playClock = Date.now();
  return [
    { name: "userEmbedding", weight: 30, field: "userEmbedding", body: byName("userEmbedding") },
    { name: "similarTracksByUser", weight: 20, field: "similarTracks", body: byName("similarTracksByUser") },
    { name: "similarTracksByTrack", weight: 15, field: "similarTracks", body: byName("similarTracksByTrack") },
    {
      // 1-5 new plays of one existing user, stamped now (each a millisecond apart, so none is a duplicate).
      name: "recordPlays",
      weight: 10,
      field: "recordPlays",
      body: (i, rng) => {
        const user = users[rng.int(users.length)];
        playClock = Math.max(playClock + 5, Date.now());
        const plays = Array.from({ length: 1 + rng.int(5) }, (_, j) => ({
          userId: user,
          trackId: tracks[rng.int(tracks.length)],
          playedAt: new Date(playClock + j).toISOString(),
          skipped: rng.float() < 0.2,
          liked: rng.float() < 0.1,
        }));
        return JSON.stringify({
          query: `mutation($p: [PlayInput!]!) { recordPlays(input: { plays: $p }) { recorded duplicates usersCreated } }`,
          variables: { p: plays },
        });
      },
    },
    {
      // Pages through the listeners: after a cursor a previous answer gave, or from the start.
      name: "usersPage",
      weight: 5,
      field: "users",
      body: (i, rng) =>
        JSON.stringify({
          query: `query($a: String) { users(first: 20, after: $a) { edges { node { id playCount } } pageInfo { endCursor hasNextPage } } }`,
          variables: { a: cursors.length && rng.float() < 0.8 ? cursors[rng.int(cursors.length)] : null },
        }),
    },
    {
      name: "runsList",
      weight: 5,
      field: "runs",
      body: () => JSON.stringify({ query: `{ runs(first: 10) { edges { node { id model status progress } } pageInfo { hasNextPage } } }` }),
    },
    {
      name: "runProgress",
      weight: 15,
      field: "run",
      body: () => JSON.stringify({ query: `query($id: ID!) { run(id: $id) { status progress } }`, variables: { id: runId() } }),
    },
  ];
}

/** Latencies of one operation, grown in chunks (10 minutes at a few hundred req/s is a few hundred thousand). */
class Samples {
  private values = new Float64Array(4096);
  count = 0;
  add(ms: number) {
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.count++] = ms;
  }
  percentile(p: number): number {
    if (!this.count) return NaN;
    const sorted = this.values.slice(0, this.count).sort();
    return sorted[Math.min(this.count - 1, Math.floor((p / 100) * this.count))];
  }
}

interface OperationStats {
  requests: number;
  errors: number;
  latency: Samples;
}

interface RssSample {
  /** Seconds since the soak's clock started. */
  t: number;
  rssMb: number;
  load1: number;
  /** The server's V8 heap in use and memory outside it (WebAssembly memories, buffers), MB, from its latest probe. */
  heapUsedMb?: number;
  externalMb?: number;
  /** Resident MB of each WebAssembly memory of the server (wasmMemoriesMb), in address order. */
  wasmMb?: number[];
}

interface TrainingState {
  runs: { id: string; firstStep: number | null; lastStep: number | null; epoch: number | null; status: string }[];
}

// ---------------------------------------------------------------- main

async function main() {
  const o = options(process.argv.slice(2));
  if (!o) {
    console.log(HELP);
    return;
  }
  const loadAtStart = os.loadavg();
  const startedAt = new Date();
  const templateDir = await template(o.fresh);
  const { users, tracks, trainedRunId } = await ids(templateDir);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rubato-bench-soak-"));
  fs.cpSync(path.join(templateDir, "pgdata"), path.join(dir, "pgdata"), { recursive: true });
  log(`store: a fresh copy in ${dir}; ${users.length} users, ${tracks.length} tracks`);

  // The server's log outlives the store (which is removed unless --keep): it is where a failure's details are.
  const serverLog = `${dir}.log`;
  const t0Server = performance.now();
  const server = await startServer(dir, serverLog, o.sampleSeconds * 1000);
  log(`server log: ${serverLog}`);
  const pid = server.child.pid!;
  let stopped = false;
  try {
    await server.warmed;
    const url = server.url;
    log(`server ${url} (pid ${pid}) warmed up after ${((performance.now() - t0Server) / 1000).toFixed(1)} s`);
    const rssIdleKb = procKb(pid, "VmRSS");

    // The training run, started through the API; the soak's clock starts at its first step.
    const auth = { authorization: `Bearer ${KEY}` };
    const training: TrainingState = { runs: [] };
    const startTraining = async () => {
      const data = await post(
        url,
        `mutation($o: JSON) { startTraining(input: { model: "${TRAINING.model}", overrides: $o }) { run { id status } } }`,
        { o: TRAINING.overrides },
        auth,
      );
      const run = (data.startTraining as { run: { id: string; status: string } }).run;
      training.runs.push({ id: run.id, firstStep: null, lastStep: null, epoch: null, status: run.status });
      log(`training run ${run.id} started (${TRAINING.model}, ${TRAINING.overrides.training.epochs} epochs, no early stopping)`);
    };
    const current = () => training.runs[training.runs.length - 1];
    /** Reads the current run's status and step; starts another run when it has ended. */
    const watchTraining = async (soaking: boolean) => {
      const run = current();
      const data = await post(url, `query($id: ID!) { run(id: $id) { status progress } }`, { id: run.id });
      const r = data.run as { status: string; progress: { step?: number; epoch?: number } | null };
      run.status = r.status;
      if (typeof r.progress?.step === "number") {
        if (soaking && run.firstStep === null) run.firstStep = r.progress.step;
        run.lastStep = r.progress.step;
        run.epoch = r.progress.epoch ?? null;
      }
      if (r.status !== "QUEUED" && r.status !== "RUNNING") {
        log(`training run ${run.id} ended ${r.status}: starting another`);
        await startTraining();
      }
    };
    if (o.training) {
      await startTraining();
      const waitStarted = performance.now();
      while (current().lastStep === null) {
        if (performance.now() - waitStarted > 15 * 60_000) throw new Error("the training run took no step in 15 minutes");
        await sleep(1000);
        await watchTraining(false);
      }
      log(`training: step ${current().lastStep} after ${((performance.now() - waitStarted) / 1000).toFixed(0)} s (dataset built)`);
      current().firstStep = current().lastStep;
    }

    // The soak.
    const ms = o.minutes * 60_000;
    const warmupMs = o.warmupMinutes * 60_000;
    const rng = new Rng(17, 5);
    const cursors: string[] = [];
    // (without training, runProgress asks for the template's trained run)
    const ops = operations(users, tracks, () => current()?.id ?? trainedRunId, cursors);
    const totalWeight = ops.reduce((s, op) => s + op.weight, 0);
    const stats = new Map<string, OperationStats>(ops.map((op) => [op.name, { requests: 0, errors: 0, latency: new Samples() }]));
    const errors = new Map<string, number>(); // "kind: detail" -> count
    const errorTimes = new Map<string, { first: number; last: number }>(); // seconds into the soak
    const perMinute: number[] = [];
    const samples: RssSample[] = [];
    const agent = new http.Agent({ keepAlive: true, maxSockets: o.clients });
    const target = new URL(url);
    const cpuAtStart = cpuSeconds(pid);
    const rssStartKb = procKb(pid, "VmRSS");
    const t0 = performance.now();
    const end = t0 + ms;
    log(
      `soaking for ${o.minutes} min at ${o.clients} clients (warm-up ${o.warmupMinutes} min); the mix: ` +
        ops.map((op) => `${op.name} ${op.weight}`).join(", "),
    );

    const sampler = setInterval(() => {
      const kb = procKb(pid, "VmRSS");
      const m = server.memory();
      // smaps every 30 s only: reading it holds the server's memory-map lock for a few ms.
      const wasm = samples.length % Math.max(1, Math.round(30 / o.sampleSeconds)) === 0 ? wasmMemoriesMb(pid) : null;
      if (kb !== null)
        samples.push({
          t: round((performance.now() - t0) / 1000),
          rssMb: round(kb / 1024),
          load1: round(os.loadavg()[0], 2),
          ...(m ? { heapUsedMb: m.heapUsed, externalMb: m.external } : {}),
          ...(wasm ? { wasmMb: wasm } : {}),
        });
    }, o.sampleSeconds * 1000);
    samples.push({ t: 0, rssMb: round((rssStartKb ?? 0) / 1024), load1: round(os.loadavg()[0], 2) });
    let minuteRequests = 0;
    let lastProgressLog = t0;
    const minuteTimer = setInterval(() => {
      perMinute.push(minuteRequests);
      minuteRequests = 0;
    }, 60_000);
    const watcher = setInterval(() => {
      if (o.training) void watchTraining(true).catch((err: Error) => log(`training watch: ${err.message}`));
      if (performance.now() - lastProgressLog >= 60_000) {
        lastProgressLog = performance.now();
        const done = [...stats.values()].reduce((s, x) => s + x.requests, 0);
        const failed = [...errors.values()].reduce((s, x) => s + x, 0);
        const kb = procKb(pid, "VmRSS");
        log(
          `  ${((lastProgressLog - t0) / 60_000).toFixed(0)} min: ${done} requests, ${failed} errors, RSS ${kb ? Math.round(kb / 1024) : "?"} MB, ` +
            `${o.training ? `training step ${current().lastStep}` : "no training"}, load ${os.loadavg()[0].toFixed(1)}`,
        );
      }
    }, 5000);

    let sent = 0;
    const client = async () => {
      while (performance.now() < end) {
        let pick = rng.float() * totalWeight;
        const op = ops.find((x) => (pick -= x.weight) < 0) ?? ops[ops.length - 1];
        const body = op.body(sent++, rng);
        const s = stats.get(op.name)!;
        const started = performance.now();
        let answer: Answer;
        try {
          const res = await request(agent, target, body);
          answer = judge(res.status, res.body, op.field);
          if (answer.kind === "ok" && op.name === "usersPage") {
            const cursor = (res.body as { data: { users: { pageInfo: { endCursor: string | null } } } }).data.users.pageInfo.endCursor;
            if (cursor) cursors[cursors.length < 100 ? cursors.length : rng.int(100)] = cursor;
          }
        } catch (err) {
          answer = { kind: "transport", detail: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
        }
        s.latency.add(performance.now() - started);
        s.requests++;
        minuteRequests++;
        if (answer.kind !== "ok") {
          s.errors++;
          const key = `${answer.kind}: ${answer.detail}`;
          const t = round((performance.now() - t0) / 1000);
          if (!errors.has(key)) log(`  first ${key} (${op.name}) at ${t} s`);
          errors.set(key, (errors.get(key) ?? 0) + 1);
          errorTimes.set(key, { first: errorTimes.get(key)?.first ?? t, last: t });
        }
      }
    };
    if (o.clients === 0) await sleep(ms);
    await Promise.all(Array.from({ length: o.clients }, client));
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    clearInterval(minuteTimer);
    clearInterval(watcher);
    if (minuteRequests) perMinute.push(minuteRequests);
    agent.destroy();
    const rssEndKb = procKb(pid, "VmRSS");
    samples.push({ t: round(seconds), rssMb: round((rssEndKb ?? 0) / 1024), load1: round(os.loadavg()[0], 2) });
    const cpuAtEnd = cpuSeconds(pid);
    if (o.training) await watchTraining(true);
    const peakKb = procKb(pid, "VmHWM");

    // Stop: cancel the training run, then SIGTERM, timed.
    if (o.training)
      await post(url, `mutation($id: ID!) { cancelTraining(input: { runId: $id }) { run { status } } }`, { id: current().id }, auth).catch(
        (err: Error) => log(`cancelTraining: ${err.message}`),
      );
    const t0Stop = performance.now();
    server.child.kill("SIGTERM");
    const exitCode = await server.exited.catch(() => null);
    const stopSeconds = (performance.now() - t0Stop) / 1000;
    stopped = true;

    // RSS growth after warm-up: the median of a window of samples at each end of the measured span.
    const window = Math.min(30, (seconds - warmupMs / 1000) / 4);
    const median = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
    };
    const warmSeconds = warmupMs / 1000;
    const afterWarmup = median(samples.filter((x) => x.t >= warmSeconds && x.t <= warmSeconds + window).map((x) => x.rssMb));
    const atEnd = median(samples.filter((x) => x.t >= seconds - window).map((x) => x.rssMb));
    const growth = ((atEnd - afterWarmup) / afterWarmup) * 100;
    // The trend, which one GC's sawtooth at either end cannot decide: the Theil-Sen slope
    // (the median of the slopes between every two samples) after warm-up, over the measured span.
    const measured = samples.filter((x) => x.t >= warmSeconds);
    const slopes: number[] = [];
    for (let i = 0; i < measured.length; i++)
      for (let j = i + 1; j < measured.length; j++)
        if (measured[j].t > measured[i].t) slopes.push((measured[j].rssMb - measured[i].rssMb) / (measured[j].t - measured[i].t));
    const trendMbPerMinute = median(slopes) * 60;
    const measuredMinutes = (seconds - warmSeconds) / 60;
    const trendGrowth = ((trendMbPerMinute * measuredMinutes) / median(measured.map((x) => x.rssMb))) * 100;

    const total = [...stats.values()].reduce((s, x) => s + x.requests, 0);
    const byKind: Record<string, number> = {};
    for (const [key, n] of errors) {
      const kind = key.slice(0, key.indexOf(":"));
      byKind[kind] = (byKind[kind] ?? 0) + n;
    }
    const stepsDuring = training.runs.reduce((s, r) => s + (r.lastStep !== null && r.firstStep !== null ? r.lastStep - r.firstStep : 0), 0);
    const loadAtEnd = os.loadavg();
    const figures = {
      startedAt: startedAt.toISOString(),
      options: {
        minutes: o.minutes,
        clients: o.clients,
        warmupMinutes: o.warmupMinutes,
        sampleSeconds: o.sampleSeconds,
        training: o.training,
      },
      // Set in the environment the server inherits, and which change how it uses memory.
      environment: Object.fromEntries(Object.entries(process.env).filter(([name, value]) => recordedEnvironment(name) && value)),
      machine: {
        cores: os.cpus().length,
        memoryGb: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        // The machine is shared: its load averages (1, 5, 15 min) when the soak began and ended.
        loadAverage: { start: loadAtStart.map((x) => round(x, 2)), end: loadAtEnd.map((x) => round(x, 2)) },
      },
      world: WORLD,
      training: {
        spec: TRAINING,
        runs: training.runs,
        stepsDuringSoak: stepsDuring,
        stepsPerSecond: round(stepsDuring / seconds, 2),
      },
      mix: Object.fromEntries(ops.map((op) => [op.name, op.weight])),
      seconds: round(seconds),
      requests: total,
      reqPerS: round(total / seconds),
      errors: {
        total: [...errors.values()].reduce((s, x) => s + x, 0),
        byKind,
        byDetail: Object.fromEntries([...errors].map(([key, n]) => [key, { count: n, seconds: errorTimes.get(key) }])),
      },
      operations: Object.fromEntries(
        ops.map((op) => {
          const s = stats.get(op.name)!;
          return [
            op.name,
            {
              weight: op.weight,
              requests: s.requests,
              errors: s.errors,
              p50Ms: round(s.latency.percentile(50)),
              p99Ms: round(s.latency.percentile(99)),
              reqPerS: round(s.requests / seconds),
            },
          ];
        }),
      ),
      requestsPerMinute: perMinute,
      server: {
        pid,
        log: serverLog,
        rssMb: {
          idle: rssIdleKb === null ? null : round(rssIdleKb / 1024),
          start: rssStartKb === null ? null : round(rssStartKb / 1024),
          afterWarmup,
          end: atEnd,
          peak: peakKb === null ? null : round(peakKb / 1024),
        },
        growthAfterWarmupPercent: round(growth, 2),
        trendMbPerMinute: round(trendMbPerMinute, 2),
        trendGrowthPercent: round(trendGrowth, 2),
        trendMethod: "Theil-Sen slope of VmRSS after warm-up, times the measured minutes, over the median VmRSS after warm-up",
        growthMethod: `median VmRSS of the samples in the ${round(window)} s after warm-up and in the last ${round(window)} s`,
        cpuSeconds: cpuAtStart !== null && cpuAtEnd !== null ? round(cpuAtEnd - cpuAtStart) : null,
        stopSeconds: round(stopSeconds, 2),
        exitCode,
      },
      rssSeries: samples,
    };
    fs.mkdirSync(path.dirname(o.json), { recursive: true });
    fs.writeFileSync(o.json, `${JSON.stringify(figures, null, 2)}\n`);

    // The report.
    const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(" ");
    console.log(
      `\nbench:soak ${o.minutes} min at ${o.clients} clients ${o.training ? `while ${TRAINING.model} trains` : "with no training"}, ${startedAt.toISOString()}\n` +
        `machine: ${os.cpus().length} cores, load average ${load(loadAtStart)} at the start, ${load(loadAtEnd)} at the end (shared machine)\n`,
    );
    const rows = [
      ["operation", "weight", "requests", "errors", "p50 ms", "p99 ms", "req/s"],
      ...ops.map((op) => {
        const f = figures.operations[op.name];
        return [
          op.name,
          String(op.weight),
          String(f.requests),
          String(f.errors),
          f.p50Ms.toFixed(1),
          f.p99Ms.toFixed(1),
          f.reqPerS.toFixed(1),
        ];
      }),
      ["all", String(totalWeight), String(total), String(figures.errors.total), "", "", figures.reqPerS.toFixed(1)],
    ];
    if (o.clients > 0) console.log(table(rows));
    else console.log("no load (--clients 0)");
    console.log(`\nerrors: ${figures.errors.total} (goal 0)${figures.errors.total ? "" : ": none of any kind"}`);
    for (const [key, n] of errors) {
      const at = errorTimes.get(key)!;
      console.log(`  ${key}: ${n} (from ${at.first} s to ${at.last} s into the soak)`);
    }
    const r = figures.server.rssMb;
    console.log(
      `\nserver RSS MB: idle ${r.idle}, soak start${o.training ? " (training)" : ""} ${r.start}, after warm-up ${afterWarmup}, end ${atEnd}, peak ${r.peak}; ` +
        `growth after warm-up ${growth.toFixed(2)} % (${figures.server.growthMethod}); ` +
        `trend ${trendMbPerMinute.toFixed(2)} MB/min, ${trendGrowth.toFixed(2)} % over the ${measuredMinutes.toFixed(1)} measured minutes (goal < 5 %)`,
    );
    const every = Math.max(1, Math.round(30 / o.sampleSeconds));
    console.log(
      `RSS series (MB, every ${every * o.sampleSeconds} s): ` +
        samples
          .filter((_, i) => i % every === 0 || i === samples.length - 1)
          .map((x) => Math.round(x.rssMb))
          .join(" "),
    );
    const probed = samples.filter((x, i) => x.heapUsedMb !== undefined && (i % every === 0 || i === samples.length - 1));
    if (probed.length)
      console.log(
        `V8 heap used / outside the heap (MB, from the server's memory probe): ` +
          probed.map((x) => `${Math.round(x.heapUsedMb!)}/${Math.round(x.externalMb!)}`).join(" "),
      );
    const withWasm = samples.filter((x) => x.wasmMb);
    if (withWasm.length)
      console.log(
        `WebAssembly memories, resident MB each (from /proc/PID/smaps): ` +
          withWasm.map((x) => x.wasmMb!.map(Math.round).join("+")).join(" "),
      );
    console.log(`requests per minute: ${perMinute.join(" ")}`);
    if (!o.training) console.log("training: none (--without-training)");
    else
      console.log(
        `training: ${stepsDuring} steps during the soak (${figures.training.stepsPerSecond}/s), ` +
          training.runs.map((x) => `run ${x.id.slice(0, 8)} ${x.status} epoch ${x.epoch} step ${x.lastStep}`).join("; "),
      );
    console.log(
      `server: ${figures.server.cpuSeconds} CPU s during the soak; SIGTERM to exit ${stopSeconds.toFixed(1)} s (code ${exitCode})`,
    );
    console.log(`\nfigures: ${path.relative(process.cwd(), o.json)}; the server's log: ${serverLog}`);
  } finally {
    if (!stopped) {
      server.child.kill("SIGTERM");
      await server.exited.catch(() => null);
    }
    if (o.keep) log(`the store and the server's log stay in ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")).join("\n");
}

main().catch((err) => {
  if (err instanceof UsageError) {
    console.error(`bench:soak: ${err.message} (see --help)`);
    process.exit(2);
  }
  console.error(err);
  process.exit(1);
});
