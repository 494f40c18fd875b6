/**
 * The choices of `rubato embed-tracks`, measured without leaking a target:
 *   npm run bench:embed-choices -- NAME=DATA_DIR [NAME=DATA_DIR ...]
 * each DATA_DIR a store made with `rubato import events` (RUBATO_DATA_DIR).
 *
 * Per store, every play is read once; then, per choice (window, sessions,
 * min-count, normalisation), the code of embed-tracks (CooccurrenceCounts,
 * learnTrackEmbeddings) learns the 80-d vectors twice:
 *  - from every play, for the label checks: the share of a track's 10 nearest
 *    neighbours sharing its artist (genre), against chance, by cosine (what
 *    embed-tracks reports) and by L2 (what serving's default metric and the
 *    ranking metrics use), over up to 1,000 tracks with 5+ plays (and 2+);
 *  - from the plays up to the time 80 % of plays precede (T), for a next-track
 *    check on the plays after T, which those vectors never saw: the rank
 *    (src/eval ranks, L2) of the next track among all tracks with a vector
 *    when the previous track's vector is the prediction. HR@10 and MRR count
 *    a transition whose tracks have no vector as a miss; coverage is the share
 *    that have both.
 * Prints one markdown table per store.
 */
import os from "node:os";
import {
  CooccurrenceCounts,
  learnTrackEmbeddings,
  neighbourAgreement,
  sessionStarts,
  type Catalogue,
  type NeighbourAgreement,
  type TrackEmbeddingOptions,
} from "../src/features";
import { ranks } from "../src/eval";
import { storeConfigFromEnv } from "../src/store/config";
import { loadCatalogue, streamHistories } from "../src/store/history";
import { openStore } from "../src/store/store";
import { splitGenres } from "../src/data/track-embeddings";

const DIM = 80;
const SPLIT = 0.8;

interface Choice {
  name: string;
  window: number;
  sessions: boolean;
  minCount: number;
  normalize: boolean;
  seed?: number;
}
const DEFAULT: Choice = {
  name: "defaults: window 5, no sessions, min-count 1, normalised",
  window: 5,
  sessions: false,
  minCount: 1,
  normalize: true,
};
const CHOICES: Choice[] = [
  DEFAULT,
  { ...DEFAULT, name: "  the same, SVD seed 2", seed: 2 },
  { ...DEFAULT, name: "  the same, SVD seed 3", seed: 3 },
  { ...DEFAULT, name: "--window 2", window: 2 },
  { ...DEFAULT, name: "--window 10", window: 10 },
  { ...DEFAULT, name: "--sessions", sessions: true },
  { ...DEFAULT, name: "--sessions --window 2", sessions: true, window: 2 },
  { ...DEFAULT, name: "--sessions --window 10", sessions: true, window: 10 },
  { ...DEFAULT, name: "--min-count 2", minCount: 2 },
  { ...DEFAULT, name: "--min-count 5", minCount: 5 },
  { ...DEFAULT, name: "--no-normalize", normalize: false },
];

interface Plays {
  trackIndex: Int32Array;
  playedAt: Float64Array;
  starts: Uint8Array;
}

function learn(histories: Plays[], tracks: number, c: Choice, until = Infinity) {
  const counts = new CooccurrenceCounts(tracks, c.window);
  for (const h of histories) {
    let n = h.playedAt.length;
    while (n > 0 && h.playedAt[n - 1] > until) n--;
    if (n) counts.addHistory(h.trackIndex.subarray(0, n), c.sessions ? h.starts.subarray(0, n) : undefined);
  }
  const options: TrackEmbeddingOptions = { dim: DIM, minCount: c.minCount, normalize: c.normalize, seed: c.seed ?? 1 };
  return learnTrackEmbeddings(counts, options);
}

const pct = (x: number) => (100 * x).toFixed(1);
const agreement = (a: NeighbourAgreement | null) => (a ? `${pct(a.neighbours)} (${pct(a.chance)}, ${a.queries})` : "-");

async function measure(name: string, dir: string): Promise<void> {
  const store = await openStore(storeConfigFromEnv({ RUBATO_DATA_DIR: dir }));
  try {
    const catalogue = await loadCatalogue(store);
    const n = catalogue.trackIds.length;
    const histories: Plays[] = [];
    for await (const h of streamHistories(store, { catalogue, context: true }))
      histories.push({ trackIndex: h.trackIndex, playedAt: h.playedAt, starts: sessionStarts(h.playedAt, h.context) });
    const rows = await store.sql.query<{ id: number; artist: string | null; genre: string | null; plays: number }>(
      `SELECT t.id, t.artist, t.genre, coalesce(p.plays, 0)::int AS plays FROM track t
         LEFT JOIN (SELECT track_id, count(*) AS plays FROM listening_event GROUP BY track_id) p ON p.track_id = t.id`,
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    const plays = Int32Array.from(catalogue.trackIds, (id) => byId.get(id)?.plays ?? 0);
    const artists = Array.from(catalogue.trackIds, (id) => (byId.get(id)?.artist ? [byId.get(id)!.artist!] : []));
    const genres = Array.from(catalogue.trackIds, (id) => splitGenres(byId.get(id)?.genre ?? null));
    const [labels, labelName] = artists.some((a) => a.length) ? [artists, "artist"] : [genres, "genre"];

    const times = Float64Array.from(histories.flatMap((h) => Array.from(h.playedAt))).sort();
    const until = times[Math.floor(SPLIT * (times.length - 1))];
    const prev: number[] = [];
    const next: number[] = [];
    for (const h of histories)
      for (let i = 0; i + 1 < h.playedAt.length; i++)
        if (h.playedAt[i + 1] > until) {
          prev.push(h.trackIndex[i]);
          next.push(h.trackIndex[i + 1]);
        }
    const sessionsPerUser = histories.reduce((a, h) => a + h.starts.reduce((x, y) => x + y, 0), 0) / histories.length;
    console.log(
      `\n${name}: ${n.toLocaleString("en-US")} tracks, ${times.length.toLocaleString("en-US")} plays of ${histories.length} users ` +
        `(${sessionsPerUser.toFixed(1)} sessions each); T = ${new Date(until).toISOString()}, ${prev.length.toLocaleString("en-US")} transitions after it ` +
        `(load average ${os.loadavg()[0].toFixed(1)})\n`,
    );
    console.log(
      `| choice | ${labelName} share, 5+ plays, cosine (chance, queries) | 2+ plays, cosine | 5+ plays, L2 | next-track HR@10 | MRR | coverage | tracks without a vector | s |`,
    );
    console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const c of CHOICES) {
      const started = performance.now();
      const all = learn(histories, n, c);
      const check = (minPlays: number, metric: "cosine" | "l2") =>
        neighbourAgreement(all.embeddings, DIM, labels, { maxQueries: 1000, metric, eligible: (row) => plays[row] >= minPlays });
      const a5 = check(5, "cosine");
      const a2 = check(2, "cosine");
      const l5 = check(5, "l2");

      const early = learn(histories, n, c, until);
      const cat: Catalogue = {
        externalIds: catalogue.externalIds,
        trackIds: catalogue.trackIds,
        dim: DIM,
        embeddings: early.embeddings,
        hasEmbedding: early.hasVector,
      };
      const covered = prev.map((_, k) => k).filter((k) => early.hasVector[prev[k]] && early.hasVector[next[k]]);
      const pred = new Float32Array(covered.length * DIM);
      covered.forEach((k, j) => pred.set(early.embeddings.subarray(prev[k] * DIM, (prev[k] + 1) * DIM), j * DIM));
      const r = ranks(
        pred,
        Int32Array.from(covered, (k) => next[k]),
        cat,
      );
      let hr = 0;
      let mrr = 0;
      for (const x of r) {
        if (x <= 10) hr++;
        mrr += 1 / x;
      }
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `| ${c.name} | ${agreement(a5)} | ${agreement(a2)} | ${agreement(l5)} | ${(hr / prev.length).toFixed(3)} | ${(mrr / prev.length).toFixed(4)} | ` +
          `${pct(covered.length / prev.length)} % | ${all.withoutVector.total.toLocaleString("en-US")} | ${seconds.toFixed(0)} |`,
      );
    }
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const stores = process.argv.slice(2).map((arg) => {
    const at = arg.indexOf("=");
    if (at < 1) throw new Error(`bench:embed-choices: expected NAME=DATA_DIR, got "${arg}"`);
    return [arg.slice(0, at), arg.slice(at + 1)] as const;
  });
  if (!stores.length) throw new Error("bench:embed-choices: name at least one store, NAME=DATA_DIR (made with rubato import events)");
  for (const [name, dir] of stores) await measure(name, dir);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
