/**
 * Track embeddings from co-occurrence: `npm run bench:embed`
 *
 * On a demo world (BENCH_USERS x BENCH_TRACKS, default 300 x 1,000, 28 days)
 * and on MovieLens latest-small (when ../shared/data holds it), learns track
 * embeddings with `embedTracks` (the code of `rubato embed-tracks`) under
 * several methods, then measures genre agreement: the share of a track's 10
 * nearest neighbours (cosine) sharing a genre with it, over up to 1,000 query
 * tracks with at least 5 plays, against chance (every other track). Prints a
 * markdown table: method, agreement, chance, lift, wall seconds of all of
 * embed-tracks (reading, factorising, writing with the index build) with the
 * factorisation's share, and the process's CPU seconds (steadier than wall
 * time on a shared machine; PGlite runs in the process).
 */
import os from "node:os";
import { importEventsFile } from "../src/store/import/events";
import { importTracksFile } from "../src/store/import/tracks";
import { loadDemoWorld } from "../src/data/demo-data";
import { openStore, type Store } from "../src/store/store";
import { embedTracks, genreCheck, type EmbedTracksOptions } from "../src/data/track-embeddings";
import { sharedFile } from "../test/helpers/shared";

const USERS = Number(process.env.BENCH_USERS ?? 300);
const TRACKS = Number(process.env.BENCH_TRACKS ?? 1000);
const DIM = 80;
const CHECK = { k: 10, maxQueries: 1000, minPlays: 5 };

const METHODS: { name: string; options: EmbedTracksOptions }[] = [
  { name: "PPMI (smoothing 0.75) + SVD, window 5 (default)", options: {} },
  { name: "PPMI without smoothing (alpha 1) + SVD", options: { smoothing: 1 } },
  { name: "raw co-occurrence counts + SVD", options: { weighting: "counts" } },
  { name: "PPMI (0.75) + SVD, window 2", options: { window: 2 } },
  { name: "PPMI (0.75) + SVD, window 10", options: { window: 10 } },
  { name: "PPMI (0.75) + SVD, min-count 5 (rarer tracks folded in)", options: { minCount: 5 } },
];

const fmt = (x: number) => x.toFixed(3);

async function compare(label: string, store: Store, reference?: string): Promise<void> {
  console.log(`\n${label} (load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)\n`);
  console.log("| method | neighbours sharing a genre | chance | lift | wall s (factorising) | CPU s |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  if (reference) {
    const g = await genreCheck(store, CHECK);
    if (g) console.log(`| ${reference} | ${fmt(g.neighbours)} | ${fmt(g.chance)} | ${(g.neighbours / g.chance).toFixed(1)}x | - | - |`);
  }
  for (const { name, options } of METHODS) {
    const cpu = process.cpuUsage();
    const r = await embedTracks(store, { dim: DIM, overwrite: true, checks: false, ...options });
    const { user, system } = process.cpuUsage(cpu);
    const g = await genreCheck(store, CHECK);
    if (!g) throw new Error(`${label}: no genres to check`);
    console.log(
      `| ${name} | ${fmt(g.neighbours)} | ${fmt(g.chance)} | ${(g.neighbours / g.chance).toFixed(1)}x | ${r.seconds.total.toFixed(1)} (${r.seconds.factorising.toFixed(1)}) | ${((user + system) / 1e6).toFixed(1)} |`,
    );
    console.error(
      `  ${name}: ${r.plays} plays, ${r.pairs} pairs, ${r.nonzeros} entries, explained ${(100 * r.explainedVariance).toFixed(1)}%, ` +
        `${r.factorised} factorised, ${r.foldedIn} folded in, ${r.withoutVector.total} without a vector; ${g.queries} queries`,
    );
  }
}

async function main(): Promise<void> {
  const demo = await openStore({ backend: "pglite", location: "memory://" });
  try {
    await loadDemoWorld(demo, { users: USERS, tracks: TRACKS, days: 28, seed: 1 });
    await compare(`demo world (${USERS} users, ${TRACKS} tracks, 28 days, seed 1), ${DIM}-d`, demo, "the world's own generated embeddings");
  } finally {
    await demo.close();
  }
  const movies = sharedFile("movielens-latest-small/movies.csv");
  const ratings = sharedFile("movielens-latest-small/ratings.csv");
  if (!movies || !ratings) {
    console.error("bench:embed: ../shared/data/movielens-latest-small is absent; MovieLens skipped");
    return;
  }
  const ml = await openStore({ backend: "pglite", location: "memory://" });
  try {
    await importTracksFile(ml, movies, "csv", { map: "id=movieId,genre=genres" });
    await importEventsFile(ml, ratings, "csv", {
      map: "user=userId,track=movieId,played_at=timestamp,liked=rating>=4",
      createTracks: true,
    });
    await compare(`MovieLens latest-small (610 users, 9,742 movies, 100,836 ratings as plays), ${DIM}-d`, ml);
  } finally {
    await ml.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
