import { InvalidArgumentError, type Command } from "commander";
import { EMBED_DEFAULTS, embedTracks, type EmbedTracksReport } from "../../store/track-embeddings";
import type { Weighting } from "../../features";
import { progressBar } from "../progress";
import { withStore } from "../store";

/** An integer option of at least `min`. */
const integer = (flag: string, min: number) => (text: string) => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new InvalidArgumentError(`--${flag}: expected an integer >= ${min}, got "${text}"`);
  return value;
};

const weighting = (text: string): Weighting => {
  if (text === "ppmi" || text === "counts") return text;
  throw new InvalidArgumentError(`--weighting: expected ppmi or counts, got "${text}"`);
};

interface EmbedFlags {
  dim: number;
  window: number;
  minCount: number;
  seed: number;
  weighting: Weighting;
  overwrite?: boolean;
  json?: boolean;
}

export function registerEmbed(program: Command): void {
  program
    .command("embed-tracks")
    .description(
      "learn track embeddings from co-occurrence in users' listening windows (PPMI + truncated SVD) and store them as the catalogue's",
    )
    .option("--dim <n>", "embedding dimension", integer("dim", 1), EMBED_DEFAULTS.dim)
    .option("--window <n>", "plays at most N apart in a user's history co-occur", integer("window", 1), EMBED_DEFAULTS.window)
    .option(
      "--min-count <n>",
      "tracks with fewer plays get the mean vector of the tracks they were played next to (no plays at all: zeros)",
      integer("min-count", 1),
      EMBED_DEFAULTS.minCount,
    )
    .option("--seed <n>", "seed of the randomized SVD (same data and seed: same embeddings)", integer("seed", 0), EMBED_DEFAULTS.seed)
    .option("--weighting <w>", "ppmi (smoothed, the default) or counts (raw co-occurrence counts)", weighting, EMBED_DEFAULTS.weighting)
    .option("--overwrite", "replace embeddings the tracks already have (otherwise refuse)")
    .option("--json", "print the summary as JSON")
    .addHelpText(
      "after",
      "\nEvery track gets a vector; the catalogue's embedding dimension becomes --dim and the vector index is rebuilt.\n" +
        "Models trained on earlier embeddings no longer match them: train again.\n" +
        "Examples:\n" +
        "  rubato import events ratings.csv --create-tracks --map user=userId,track=movieId,played_at=timestamp,liked=rating>=4\n" +
        "  rubato embed-tracks --dim 80\n" +
        "  rubato embed-tracks --dim 64 --window 10 --min-count 5 --overwrite --json",
    )
    .action((flags: EmbedFlags) =>
      withStore(async (store) => {
        const bar = progressBar("embed", "plays");
        const report = await embedTracks(store, {
          ...flags,
          onProgress: (p) => {
            if (p.phase === "reading") bar.update(p.plays, p.totalPlays);
          },
        }).finally(() => bar.stop());
        console.log(flags.json ? JSON.stringify(report, null, 2) : formatEmbedReport(report));
      }),
    );
}

export function formatEmbedReport(r: EmbedTracksReport): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const s = r.seconds;
  const lines = [
    `embedded ${n(r.tracks)} tracks in ${r.dim} dimensions from ${n(r.plays)} plays of ${n(r.users)} users (window ${r.window})`,
    `  ${n(r.factorised)} factorised (at least ${r.minCount} play${r.minCount === 1 ? "" : "s"}), ${n(r.foldedIn)} folded in, ${n(r.zero)} zero (no co-occurrence)`,
    `  ${n(r.pairs)} track pairs; ${r.weighting === "ppmi" ? "PPMI" : "count"} matrix with ${n(r.nonzeros)} entries; ` +
      `the rank-${r.dim} SVD keeps ${(100 * r.explainedVariance).toFixed(1)}% of its energy`,
    `  ${s.total.toFixed(1)} s (reading ${s.reading.toFixed(1)} s, factorising ${s.factorising.toFixed(1)} s, writing and indexing ${s.writing.toFixed(1)} s)` +
      (r.replaced ? `; replaced ${n(r.replaced)} existing embeddings` : ""),
  ];
  const g = r.genres;
  if (g)
    lines.push(
      `  genre check: ${(100 * g.neighbours).toFixed(1)}% of tracks' ${g.k} nearest neighbours share a genre with them, ` +
        `against ${(100 * g.chance).toFixed(1)}% by chance (${n(g.queries)} tracks with 5+ plays)`,
    );
  return lines.join("\n");
}
