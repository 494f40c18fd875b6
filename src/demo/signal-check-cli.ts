/**
 * Generates a demo world and runs the signal check on it.
 *
 *   node -r @swc-node/register src/demo/signal-check-cli.ts --users 2000 --tracks 5000 --days 28 [--seed 1]
 *     [--dim 80] [--genres 16] [--lambda 0.01] [--max-train 20000] [--max-test 20000] [--json]
 */
import { formatSignalCheck, signalCheck } from "./signal-check";
import { DEFAULT_WORLD_SIZE, generateWorld } from "./world";

function parseArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf("=");
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) out.set(a.slice(2), argv[++i]);
    else out.set(a.slice(2), "true");
  }
  return out;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const known = ["users", "tracks", "days", "seed", "dim", "genres", "lambda", "max-train", "max-test", "json"];
  for (const k of args.keys()) if (!known.includes(k)) throw new Error(`unknown option --${k} (known: ${known.map((x) => `--${x}`).join(", ")})`);
  const num = (k: string, d?: number): number | undefined => {
    const v = args.get(k);
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`--${k} expects a number, got ${v}`);
    return n;
  };
  const t0 = performance.now();
  const world = generateWorld({
    users: num("users", DEFAULT_WORLD_SIZE.users)!,
    tracks: num("tracks", DEFAULT_WORLD_SIZE.tracks)!,
    days: num("days", DEFAULT_WORLD_SIZE.days)!,
    seed: num("seed", 1)!,
    dim: num("dim"),
    genres: num("genres"),
  });
  let plays = 0;
  for (const _ of world.events()) plays++;
  const t1 = performance.now();
  const result = signalCheck(world, {
    lambda: num("lambda"),
    maxTrainPoints: num("max-train"),
    maxTestPoints: num("max-test"),
  });
  const t2 = performance.now();
  if (args.has("json")) {
    console.log(JSON.stringify({ options: world.options, plays, generateMs: Math.round(t1 - t0), checkMs: Math.round(t2 - t1), result }, null, 2));
    return;
  }
  const o = world.options;
  console.log(`world: ${o.users} users, ${o.tracks} tracks, ${o.genres} genres, ${o.days} days, dim ${o.dim}, seed ${o.seed}`);
  console.log(`plays: ${plays} (generated and streamed in ${((t1 - t0) / 1000).toFixed(2)} s)`);
  console.log(formatSignalCheck(result));
  console.log(`signal check took ${((t2 - t1) / 1000).toFixed(2)} s`);
}

try {
  main();
} catch (err) {
  console.error(`signal-check: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
