/**
 * A bench's figures as data: each `figure` prints `name value` (the line format
 * every bench has always printed) and is kept; `save` writes them with the run's
 * provenance to bench/results/<bench>.json (or BENCH_RESULTS_DIR), which
 * `npm run bench:docs` renders into docs/benchmarks.md.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export const RESULTS_DIR = path.resolve(__dirname, "results");

/** What bench/results/<bench>.json holds for the benches that print `name value` figures. */
export interface BenchRecord {
  bench: string;
  /** The command as typed, e.g. `npm run bench:train -- --steps=10`. */
  command: string;
  recordedAt: string;
  /** The commit the bench ran at (with "+changes" when the tree was dirty); null outside git. */
  commit: string | null;
  machine: { cores: number; memoryGb: number; node: string; loadAverage: { start: number; end: number } };
  figures: Record<string, number>;
  /** The `# ...` lines the bench printed along the way (context for the figures). */
  notes: string[];
}

/** One phase of bench:scale as bench/results/scale-*.json holds it. */
export interface ScalePhase<P extends string = string> {
  phase: P;
  command: string;
  wallSeconds: number;
  peakRssMb: number | null;
  /** Phase-specific figures (rows, counts, the CLI's own timings). */
  details: Record<string, unknown>;
  /** When the phase ended, and the machine's 1-minute load average then (the machine is shared). */
  finishedAt?: string;
  loadAverage?: number;
}

/** One operation of bench:scale's queries phase. */
export interface QueryResult {
  operation: string;
  clients: number;
  p50Ms: number;
  p99Ms: number;
  reqPerS: number;
  failed: number;
}

/** A scale phase's details in a line (bench:scale's table and the docs' one); `n` formats the numbers. */
export function phaseNotes(p: ScalePhase, n: (x: unknown) => string = String): string {
  const d = p.details;
  switch (p.phase) {
    case "generate":
      return `${n(d.plays)} plays of ${n(d.users)} users imported`;
    case "embed":
      return `${n(d.plays)} plays, ${n(d.pairs)} pairs, ${n(d.factorised)} tracks factorised`;
    case "dataset":
      return `${n(d.users)} users, ${n(d.plays)} plays, ${n(d.typedArrayMb)} MB of arrays (${n(d.bytesPerPlay)} B per play), built in ${n(d.buildSeconds)} s`;
    case "train":
      return (
        `dataset ${n(d.datasetSeconds)} s; ` +
        (d.resumedRun
          ? `resumed run ${String(d.resumedRun).slice(0, 8)}: its epoch ${n(d.epochSeconds)} s (${n(d.epochSamplesPerSecond)} samples/s), test (${n(d.testRows)} rows) ${n(d.trainAndTestSeconds)} s; `
          : `epoch steps ${n(d.epochStepSeconds)} s and test (${n(d.testRows)} rows) ${n(d.trainAndTestSeconds)} s; `) +
        `user embeddings ${n(d.embeddingsSeconds)} s${d.failed ? "; FAILED" : ""}`
      );
    case "serve": {
      const warmUp = d.warmUp as { users: number; seconds: number } | string | undefined;
      return (
        `listening ${n(d.listeningSeconds)} s, /health ${n(d.healthSeconds)} s, userEmbedding ${n(d.firstUserEmbeddingSeconds)} s` +
        (typeof warmUp === "object" && warmUp ? `; warm-up (${n(warmUp.users)} users prefilled) ${n(warmUp.seconds)} s` : "")
      );
    }
    case "queries":
      return `${n((d.operations as unknown[] | undefined)?.length ?? 0)} operations`;
    default:
      return "";
  }
}

export function currentCommit(): string | null {
  try {
    const git = (args: string[]) =>
      execFileSync("git", args, { cwd: __dirname, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const head = git(["rev-parse", "--short", "HEAD"]);
    return git(["status", "--porcelain", "--untracked-files=no"]) ? `${head}+changes` : head;
  } catch {
    return null;
  }
}

export function machine(loadAtStart: number) {
  return {
    cores: os.cpus().length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    loadAverage: { start: round2(loadAtStart), end: round2(os.loadavg()[0]) },
  };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

export interface Recorder {
  /** Prints `name value` and keeps the figure (value rounded to `digits` decimals). */
  figure(name: string, value: number, digits?: number): void;
  /** Prints `# text` and keeps it as a note. */
  note(text: string): void;
  /** Writes the record; returns the file. Call once, at the end of a run that finished. */
  save(): string;
}

export function recorder(bench: string, args: string[] = process.argv.slice(2)): Recorder {
  const loadAtStart = os.loadavg()[0];
  const figures: Record<string, number> = {};
  const notes: string[] = [];
  return {
    figure(name, value, digits = 0) {
      const rounded = Number(value.toFixed(digits));
      figures[name] = rounded;
      console.log(`${name} ${value.toFixed(digits)}`);
    },
    note(text) {
      notes.push(text);
      console.log(`# ${text}`);
    },
    save() {
      const record: BenchRecord = {
        bench,
        command: `npm run bench:${bench}${args.length ? ` -- ${args.join(" ")}` : ""}`,
        recordedAt: new Date().toISOString(),
        commit: currentCommit(),
        machine: machine(loadAtStart),
        figures,
        notes,
      };
      const dir = process.env.BENCH_RESULTS_DIR ?? RESULTS_DIR;
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${bench}.json`);
      fs.writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
      console.error(`bench:${bench}: figures written to ${path.relative(process.cwd(), file)}`);
      return file;
    },
  };
}
