import { InvalidArgumentError, type Command } from "commander";
import { EMBED_DEFAULTS, embedTracks, type EmbedTracksReport } from "../../data/track-embeddings";
import type { Weighting } from "../../features";
import { progressBar } from "../progress";
import { withStore } from "../store";
import { pauseBeforeCommit } from "../../test-hooks";

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

const minutes = (text: string): number => {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value <= 0)
    throw new InvalidArgumentError(`--session-gap: expected a number of minutes > 0, got "${text}"`);
  return value;
};

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/** An ISO 8601 instant: a date (its 00:00 UTC), or a date and time with its zone (Z or +hh:mm). */
export function parseInstant(text: string, flag: string): Date {
  const fail = () =>
    new InvalidArgumentError(
      `--${flag}: expected an ISO 8601 time with its zone, e.g. 2014-04-23T00:00:00Z (or a date, 2014-04-23, for its 00:00 UTC), got "${text}"`,
    );
  const m = INSTANT.exec(text.trim());
  if (!m) throw fail();
  const [, y, mo, d, h = "0", mi = "0", sec = "0"] = m;
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  // Date.parse would roll 2014-02-30 over into March.
  if (day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59)
    throw fail();
  const ms = m[4] === undefined ? day.getTime() : Date.parse(text.trim());
  if (!Number.isFinite(ms)) throw fail();
  return new Date(ms);
}

interface EmbedFlags {
  dim: number;
  window: number;
  minCount: number;
  seed: number;
  weighting: Weighting;
  until?: Date;
  sessions?: boolean;
  sessionGap: number;
  normalize: boolean;
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
      "tracks with fewer plays get the mean vector of the tracks they were played next to (none such: no vector)",
      integer("min-count", 1),
      EMBED_DEFAULTS.minCount,
    )
    .option("--seed <n>", "seed of the randomized SVD (same data and seed: same embeddings)", integer("seed", 0), EMBED_DEFAULTS.seed)
    .option("--weighting <w>", "ppmi (smoothed, the default) or counts (raw co-occurrence counts)", weighting, EMBED_DEFAULTS.weighting)
    .option(
      "--until <time>",
      "learn only from plays at or before this time (ISO 8601, e.g. 2014-04-23T00:00:00Z), e.g. before an evaluation's test period",
      (text: string) => parseInstant(text, "until"),
    )
    .option(
      "--sessions",
      "windows stop at session boundaries: where the plays' context changes (the sessions format stores SessionId there), " +
        "or, where a play has no context, after a gap of more than --session-gap minutes",
    )
    .option(
      "--session-gap <minutes>",
      "with --sessions: the gap that starts a new session between plays without a context",
      minutes,
      EMBED_DEFAULTS.sessionGapMinutes,
    )
    .option("--no-normalize", "keep the vectors' lengths (U·sqrt(S)) instead of scaling every vector to length 1")
    .option("--overwrite", "replace embeddings the tracks already have (otherwise refuse)")
    .option("--json", "print the summary as JSON")
    .addHelpText(
      "after",
      "\nTracks co-occurrence cannot place (never played, or never within --window plays of another track) get no vector,\n" +
        "never a zero one: searches and metrics leave them out, and the summary says how many and why. The catalogue's\n" +
        "embedding dimension becomes --dim, the vector index is rebuilt, and the store records how the embeddings were\n" +
        "learnt (--until, the newest play read). Models trained on earlier embeddings no longer match them: train again.\n" +
        "Examples:\n" +
        "  rubato import events ratings.csv --create-tracks --map user=userId,track=movieId,played_at=timestamp,liked=rating>=4\n" +
        "  rubato embed-tracks --dim 80\n" +
        "  rubato embed-tracks --dim 64 --window 10 --min-count 5 --overwrite --json\n" +
        "  rubato embed-tracks --overwrite --until 2014-04-23T00:00:00Z   # only plays before an evaluation's test period",
    )
    .action((flags: EmbedFlags) =>
      withStore(async (store) => {
        const bar = progressBar("embed", "plays");
        const { sessionGap, json, ...options } = flags;
        const report = await embedTracks(pauseBeforeCommit(store, "embed-tracks"), {
          ...options,
          sessionGapMinutes: sessionGap,
          onProgress: (p) => {
            if (p.phase === "reading") bar.update(p.plays, p.totalPlays);
          },
        }).finally(() => bar.stop());
        console.log(json ? JSON.stringify(report, null, 2) : formatEmbedReport(report));
      }),
    );
}

export function formatEmbedReport(r: EmbedTracksReport): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const s = r.seconds;
  const from = r.until ? ` at or before ${r.until.toISOString()}` : "";
  const sessions = r.sessions ? `, within sessions split at a new context or a gap over ${r.sessions.gapMinutes} min` : "";
  const lines = [
    `embedded ${n(r.tracks - r.withoutVector.total)} of ${n(r.tracks)} tracks in ${r.dim} dimensions from ${n(r.plays)} plays${from} ` +
      `of ${n(r.users)} users (window ${r.window}${sessions})`,
    `  ${n(r.factorised)} factorised (at least ${r.minCount} play${r.minCount === 1 ? "" : "s"}), ${n(r.foldedIn)} folded in` +
      (r.normalized ? "" : "; vectors not normalised"),
  ];
  if (r.withoutVector.total > 0) lines.push(`  ${withoutVectorText(r)}`);
  lines.push(
    `  ${n(r.pairs)} track pairs; ${r.weighting === "ppmi" ? "PPMI" : "count"} matrix with ${n(r.nonzeros)} entries; ` +
      `the rank-${r.dim} SVD keeps ${(100 * r.explainedVariance).toFixed(1)}% of its energy`,
    `  ${s.total.toFixed(1)} s (reading ${s.reading.toFixed(1)} s, factorising ${s.factorising.toFixed(1)} s, writing and indexing ${s.writing.toFixed(1)} s)` +
      (r.replaced ? `; replaced ${n(r.replaced)} existing embeddings` : ""),
  );
  const checks = [
    ["genre", "a genre", r.genres],
    ["artist", "the artist", r.artists],
  ] as const;
  for (const [name, what, g] of checks)
    if (g)
      lines.push(
        `  ${name} check: ${(100 * g.neighbours).toFixed(1)}% of tracks' ${g.k} nearest neighbours share ${what} with them, ` +
          `against ${(100 * g.chance).toFixed(1)}% by chance (${n(g.queries)} tracks with 5+ plays)`,
      );
  return lines.join("\n");
}

/** e.g. "4 tracks have no vector (...): 3 never played within --window 5 plays of another track, 1 never played" */
export function withoutVectorText(r: EmbedTracksReport): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const w = r.withoutVector;
  const reasons: [number, string][] = [
    [w.noCooccurrence, `never played within --window ${r.window} plays of another track${r.sessions ? " in the same session" : ""}`],
    [w.playedOnlyAfterUntil, "played only after --until"],
    [w.neverPlayed, "never played"],
    [w.onlyRareNeighbours, `played only next to tracks with fewer than --min-count ${r.minCount} plays`],
    [w.degenerate, `with co-occurrence too weak to place (nothing left of it in the rank-${r.dim} SVD)`],
  ];
  const because = reasons.filter(([count]) => count > 0).map(([count, why]) => `${n(count)} ${why}`);
  return `${n(w.total)} track${w.total === 1 ? " has" : "s have"} no vector (searches and metrics leave them out): ${because.join(", ")}`;
}
