/**
 * Signal check for the demo world: do both speeds of signal carry information
 * about the next track?
 *
 * For every user and every play t (from the window-th play on), predict the
 * embedding of play t+1 with ridge regression from
 *  - fast features: the last `window` plays (embedding, skipped flag, daypart one-hot),
 *  - slow features: log1p of cumulative plays, likes, playlist adds, skips,
 *    restarts and plays of liked tracks, plus the daypart shares of all plays so far,
 *  - both (concatenation),
 * fitted on a train split of users and scored on the held-out users, next to
 * the mean-of-history, last-play and global-mean baselines.
 */
import { fitRidge, NormalEquations, predictRidge, RidgeModel } from "./ridge";
import { Rng } from "../random";
import type { World } from "./world";
import { daypartOf } from "./world";

export interface SignalCheckOptions {
  /** Fast window w (default 5, as in the paper). */
  window?: number;
  /** Share of users in the train split (default 0.7). */
  trainFraction?: number;
  /** Ridge strength on standardised features (default 0.01). */
  lambda?: number;
  /** Cap on train prediction points, sampled uniformly (default 20,000; keeps the fit fast). */
  maxTrainPoints?: number;
  /** Cap on test prediction points, sampled uniformly (default 20,000). */
  maxTestPoints?: number;
  /** Seed of the user split and point sampling (default 0). */
  seed?: number;
}

export interface PredictionScore {
  /** Mean over points of the squared error per embedding coordinate. */
  mse: number;
  /** Mean Euclidean (L2) distance between prediction and truth. */
  l2: number;
  /** Mean cosine distance, 1 - cos(prediction, truth). */
  cosine: number;
}

export interface SignalCheckResult {
  fastOnly: PredictionScore;
  slowOnly: PredictionScore;
  both: PredictionScore;
  /** Mean embedding of all plays so far. */
  historyMean: PredictionScore;
  /** Embedding of the last play. */
  lastPlay: PredictionScore;
  /** Mean next-track embedding of the train points. */
  globalMean: PredictionScore;
  trainUsers: number;
  testUsers: number;
  trainPoints: number;
  testPoints: number;
  featureDims: { fast: number; slow: number; both: number };
}

/** Compact per-user history. */
interface History {
  tracks: Int32Array;
  /** bit 0 skipped, 1 liked, 2 added to playlist, 3 restarted. */
  flags: Uint8Array;
  dayparts: Uint8Array;
}

const SKIPPED = 1;
const LIKED = 2;
const ADDED = 4;
const RESTARTED = 8;
/** Slow feature count: 6 log1p counts + 4 daypart shares. */
export const SLOW_FEATURES = 10;

function collectHistories(world: World): History[] {
  const index = new Map<string, number>();
  world.tracks.forEach((t, i) => index.set(t.externalId, i));
  const out: History[] = [];
  let user: string | null = null;
  let tracks: number[] = [];
  let flags: number[] = [];
  let parts: number[] = [];
  const flush = (): void => {
    if (user !== null) out.push({ tracks: Int32Array.from(tracks), flags: Uint8Array.from(flags), dayparts: Uint8Array.from(parts) });
    tracks = [];
    flags = [];
    parts = [];
  };
  for (const e of world.events()) {
    if (e.userExternalId !== user) {
      flush();
      user = e.userExternalId;
    }
    const ti = index.get(e.trackExternalId);
    if (ti === undefined) throw new Error(`signal check: unknown track ${e.trackExternalId}`);
    tracks.push(ti);
    flags.push((e.skipped ? SKIPPED : 0) | (e.liked ? LIKED : 0) | (e.addedToPlaylist ? ADDED : 0) | (e.restarted ? RESTARTED : 0));
    parts.push(daypartOf(e.playedAt));
  }
  flush();
  return out;
}

class Scorer {
  private se = 0;
  private l2 = 0;
  private cos = 0;
  private n = 0;
  constructor(private readonly dim: number) {}
  add(pred: ArrayLike<number>, truth: ArrayLike<number>): void {
    let se = 0;
    let dot = 0;
    let pp = 0;
    let tt = 0;
    for (let k = 0; k < this.dim; k++) {
      const d = pred[k] - truth[k];
      se += d * d;
      dot += pred[k] * truth[k];
      pp += pred[k] * pred[k];
      tt += truth[k] * truth[k];
    }
    this.se += se / this.dim;
    this.l2 += Math.sqrt(se);
    this.cos += 1 - (pp > 0 && tt > 0 ? dot / Math.sqrt(pp * tt) : 0);
    this.n++;
  }
  score(): PredictionScore {
    const n = Math.max(1, this.n);
    return { mse: this.se / n, l2: this.l2 / n, cosine: this.cos / n };
  }
}

export function signalCheck(world: World, options: SignalCheckOptions = {}): SignalCheckResult {
  const w = options.window ?? 5;
  const trainFraction = options.trainFraction ?? 0.7;
  const lambda = options.lambda ?? 0.01;
  const maxTrain = options.maxTrainPoints ?? 20_000;
  const maxTest = options.maxTestPoints ?? 20_000;
  const seed = options.seed ?? 0;
  const dim = world.options.dim;
  const embeddings = world.tracks.map((t) => t.embedding);

  const histories = collectHistories(world);
  const order = new Rng(seed, 11).shuffle(histories.map((_, i) => i));
  const nTrain = Math.round(order.length * trainFraction);
  const trainUsers = order.slice(0, nTrain).sort((a, b) => a - b);
  const testUsers = order.slice(nTrain).sort((a, b) => a - b);

  // Layout of a feature row: [1, fast (w * (dim + 5)), slow (10)].
  const perStep = dim + 5;
  const fastDims = w * perStep;
  const p = 1 + fastDims + SLOW_FEATURES;
  const fastCols = Array.from({ length: fastDims }, (_, i) => 1 + i);
  const slowCols = Array.from({ length: SLOW_FEATURES }, (_, i) => 1 + fastDims + i);
  const bothCols = [...fastCols, ...slowCols];

  const pointsOf = (users: number[]): number => users.reduce((s, u) => s + Math.max(0, histories[u].tracks.length - w), 0);

  /** Calls `visit` for sampled prediction points of `users` with the filled row, target and history mean. */
  const forEachPoint = (
    users: number[],
    keep: number,
    rng: Rng,
    visit: (row: Float64Array, target: Float32Array, histMean: Float64Array, last: Float32Array) => void,
  ): void => {
    const row = new Float64Array(p);
    const histSum = new Float64Array(dim);
    const histMean = new Float64Array(dim);
    for (const u of users) {
      const h = histories[u];
      const n = h.tracks.length;
      if (n <= w) continue;
      let likes = 0;
      let adds = 0;
      let skips = 0;
      let restarts = 0;
      let likedPlays = 0;
      const partCounts = [0, 0, 0, 0];
      const liked = new Set<number>();
      histSum.fill(0);
      for (let t = 0; t < n - 1; t++) {
        const f = h.flags[t];
        const track = h.tracks[t];
        if (f & LIKED) {
          likes++;
          liked.add(track);
        }
        if (f & ADDED) adds++;
        if (f & SKIPPED) skips++;
        if (f & RESTARTED) restarts++;
        if (liked.has(track)) likedPlays++;
        partCounts[h.dayparts[t]]++;
        const e = embeddings[track];
        for (let k = 0; k < dim; k++) histSum[k] += e[k];
        if (t < w - 1) continue;
        if (keep < 1 && rng.float() >= keep) continue;

        row.fill(0);
        row[0] = 1;
        for (let j = 0; j < w; j++) {
          const s = t - w + 1 + j;
          const base = 1 + j * perStep;
          row.set(embeddings[h.tracks[s]], base);
          row[base + dim] = h.flags[s] & SKIPPED ? 1 : 0;
          row[base + dim + 1 + h.dayparts[s]] = 1;
        }
        const plays = t + 1;
        const sb = 1 + fastDims;
        row[sb] = Math.log1p(plays);
        row[sb + 1] = Math.log1p(likes);
        row[sb + 2] = Math.log1p(adds);
        row[sb + 3] = Math.log1p(skips);
        row[sb + 4] = Math.log1p(restarts);
        row[sb + 5] = Math.log1p(likedPlays);
        for (let d = 0; d < 4; d++) row[sb + 6 + d] = partCounts[d] / plays;
        for (let k = 0; k < dim; k++) histMean[k] = histSum[k] / plays;
        visit(row, embeddings[h.tracks[t + 1]], histMean, e);
      }
    }
  };

  const trainCandidates = pointsOf(trainUsers);
  const ne = new NormalEquations(p, dim);
  forEachPoint(trainUsers, Math.min(1, maxTrain / Math.max(1, trainCandidates)), new Rng(seed, 12), (row, target) => ne.add(row, target));
  if (ne.rows === 0) throw new Error("signal check: no training points (world too small for the window)");
  const models: Record<"fast" | "slow" | "both", RidgeModel> = {
    fast: fitRidge(ne, fastCols, lambda),
    slow: fitRidge(ne, slowCols, lambda),
    both: fitRidge(ne, bothCols, lambda),
  };
  const globalMean = new Float64Array(dim);
  for (let k = 0; k < dim; k++) globalMean[k] = ne.xty[k] / ne.rows;

  const scorers = {
    fast: new Scorer(dim),
    slow: new Scorer(dim),
    both: new Scorer(dim),
    history: new Scorer(dim),
    last: new Scorer(dim),
    global: new Scorer(dim),
  };
  const pred = new Float64Array(dim);
  let testPoints = 0;
  const testCandidates = pointsOf(testUsers);
  forEachPoint(testUsers, Math.min(1, maxTest / Math.max(1, testCandidates)), new Rng(seed, 13), (row, target, histMean, last) => {
    testPoints++;
    scorers.fast.add(predictRidge(models.fast, row, pred), target);
    scorers.slow.add(predictRidge(models.slow, row, pred), target);
    scorers.both.add(predictRidge(models.both, row, pred), target);
    scorers.history.add(histMean, target);
    scorers.last.add(last, target);
    scorers.global.add(globalMean, target);
  });

  return {
    fastOnly: scorers.fast.score(),
    slowOnly: scorers.slow.score(),
    both: scorers.both.score(),
    historyMean: scorers.history.score(),
    lastPlay: scorers.last.score(),
    globalMean: scorers.global.score(),
    trainUsers: trainUsers.length,
    testUsers: testUsers.length,
    trainPoints: ne.rows,
    testPoints,
    featureDims: { fast: fastDims, slow: SLOW_FEATURES, both: fastDims + SLOW_FEATURES },
  };
}

/** Plain-text table of a signal-check result. */
export function formatSignalCheck(r: SignalCheckResult): string {
  const rows: [string, PredictionScore][] = [
    ["fast only", r.fastOnly],
    ["slow only", r.slowOnly],
    ["fast + slow", r.both],
    ["mean of history", r.historyMean],
    ["last play", r.lastPlay],
    ["global mean", r.globalMean],
  ];
  const lines = [
    `train ${r.trainUsers} users / ${r.trainPoints} points, test ${r.testUsers} users / ${r.testPoints} points`,
    `${"predictor".padEnd(16)} ${"MSE".padStart(8)} ${"L2".padStart(8)} ${"cosine".padStart(8)}`,
  ];
  for (const [name, s] of rows) {
    lines.push(`${name.padEnd(16)} ${s.mse.toFixed(5).padStart(8)} ${s.l2.toFixed(4).padStart(8)} ${s.cosine.toFixed(4).padStart(8)}`);
  }
  const gain = (a: number, b: number): string => `${(100 * (1 - b / a)).toFixed(1)}%`;
  lines.push(
    `fast + slow vs fast only: MSE ${gain(r.fastOnly.mse, r.both.mse)} lower; vs slow only: ${gain(r.slowOnly.mse, r.both.mse)} lower`,
  );
  return lines.join("\n");
}
