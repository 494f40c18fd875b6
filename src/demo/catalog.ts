/**
 * Genres and the track catalogue of the demo world: points in a dim-dimensional
 * embedding space clustered by genre, with Zipf-like popularity inside a genre.
 */
import { Rng } from "../random";

export interface Genre {
  index: number;
  name: string;
  /** 0 = calm (ambient), 1 = intense (metal); drives the time-of-day mood shift. */
  energy: number;
  centroid: Float32Array;
}

export interface WorldTrack {
  externalId: string;
  title: string;
  artist: string;
  genre: string;
  embedding: Float32Array;
  /** Zipf-like weight within the genre: 1 / (rank + 1)^0.9, rank 0 = most played. */
  popularity: number;
  durationMs: number;
}

/** Internal view of the catalogue used by the simulator. */
export interface Catalog {
  genres: Genre[];
  tracks: WorldTrack[];
  /** Genre index per track. */
  trackGenre: Int32Array;
  /** Track indices of each genre. */
  genreTracks: Int32Array[];
  /** Cumulative popularity of each genre's tracks (same order as genreTracks). */
  genreCumPopularity: Float64Array[];
  /** Style coordinates of each track (tracks x STYLE_AXES.length, row-major), each axis ~ N(0, 1.5^2). */
  trackStyle: Float32Array;
  /** Mean distance of a track to its genre centroid. */
  spread: number;
}

/**
 * Style axes shared by all genres: a track's embedding is its genre centroid plus
 * its style coordinates mapped into the space along fixed random directions
 * (plus a little noise). The fast listening mood moves along these axes.
 */
export const STYLE_AXES = ["energy", "valence", "acousticness"] as const;

/** The standard 16 genres, ordered by energy. */
export const STANDARD_GENRES: ReadonlyArray<{ name: string; energy: number }> = [
  { name: "ambient", energy: 0.05 },
  { name: "classical", energy: 0.12 },
  { name: "lo-fi", energy: 0.22 },
  { name: "acoustic", energy: 0.28 },
  { name: "folk", energy: 0.33 },
  { name: "jazz", energy: 0.38 },
  { name: "soul", energy: 0.45 },
  { name: "r&b", energy: 0.52 },
  { name: "indie", energy: 0.56 },
  { name: "pop", energy: 0.63 },
  { name: "hip-hop", energy: 0.68 },
  { name: "rock", energy: 0.74 },
  { name: "house", energy: 0.79 },
  { name: "electronic", energy: 0.84 },
  { name: "techno", energy: 0.9 },
  { name: "metal", energy: 0.96 },
];

const ADJECTIVES = [
  "Silver", "Quiet", "Electric", "Golden", "Broken", "Hidden", "Endless", "Velvet", "Paper", "Neon",
  "Wild", "Slow", "Bright", "Hollow", "Crimson", "Lucid", "Distant", "Frozen", "Burning", "Gentle",
  "Restless", "Blue", "Lonely", "Northern", "Secret", "Falling", "Midnight", "Summer", "Winter", "Glass",
];
const NOUNS = [
  "River", "Heart", "Signal", "Garden", "Echo", "Horizon", "Window", "Machine", "Ocean", "Letter",
  "Shadow", "Highway", "Mirror", "Season", "Harbor", "Pulse", "Orbit", "Lantern", "Canyon", "Dream",
  "Static", "Motel", "Compass", "Fever", "Avenue", "Skyline", "Feather", "Engine", "Island", "Tide",
];
const SYLLABLES = [
  "ka", "lo", "mi", "ra", "ven", "so", "tal", "ne", "ri", "do", "sa", "mar", "el", "in", "ko", "ve",
  "lu", "na", "bel", "or", "thy", "zen", "ca", "li",
];

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function artistName(rng: Rng): string {
  const form = rng.int(4);
  const word = (n: number): string => {
    let w = "";
    for (let i = 0; i < n; i++) w += SYLLABLES[rng.int(SYLLABLES.length)];
    return capitalise(w);
  };
  if (form === 0) return `The ${ADJECTIVES[rng.int(ADJECTIVES.length)]} ${NOUNS[rng.int(NOUNS.length)]}s`;
  if (form === 1) return word(2 + rng.int(2));
  return `${word(2)} ${word(2 + rng.int(2))}`;
}

function trackTitle(rng: Rng): string {
  const a = ADJECTIVES[rng.int(ADJECTIVES.length)];
  const n = NOUNS[rng.int(NOUNS.length)];
  const form = rng.int(5);
  if (form === 0) return n;
  if (form === 1) return `${n} of ${NOUNS[rng.int(NOUNS.length)]}s`;
  return `${a} ${n}`;
}

/** Default number of genres for a catalogue size: 16, fewer for tiny catalogues. */
export function defaultGenreCount(tracks: number): number {
  return Math.max(2, Math.min(16, Math.floor(tracks / 10)));
}

/** Names and energies of `count` genres: a spread-out subset of the standard 16, or extras beyond it. */
export function genreSpecs(count: number, rng: Rng): { name: string; energy: number }[] {
  if (count <= STANDARD_GENRES.length) {
    const out: { name: string; energy: number }[] = [];
    for (let i = 0; i < count; i++) {
      const k = count === 1 ? 0 : Math.round((i * (STANDARD_GENRES.length - 1)) / (count - 1));
      out.push({ ...STANDARD_GENRES[k] });
    }
    return out;
  }
  const out = STANDARD_GENRES.map((g) => ({ ...g }));
  for (let i = STANDARD_GENRES.length; i < count; i++) out.push({ name: `genre-${i + 1}`, energy: rng.float() });
  return out;
}

export interface CatalogOptions {
  tracks: number;
  dim: number;
  genres: number;
  seed: number;
}

/**
 * Scale of the space: centroids have norm about CENTROID_NORM; each style axis
 * moves a track by STYLE_NORM per unit; residual noise has norm about NOISE_NORM.
 */
const CENTROID_NORM = 3;
const STYLE_NORM = 1.6;
/** Standard deviation of the tracks' style coordinates. */
const STYLE_SPREAD = 1.5;
const NOISE_NORM = 0.8;
/** Share of tracks placed between their genre and a second one. */
const BRIDGE_SHARE = 0.08;
const ZIPF_EXPONENT = 0.9;

export function buildCatalog(opts: CatalogOptions): Catalog {
  const { dim, seed } = opts;
  const rng = new Rng(seed, 1);
  const specs = genreSpecs(opts.genres, rng);
  const G = specs.length;
  if (opts.tracks < G) throw new RangeError(`need at least one track per genre (tracks ${opts.tracks} < genres ${G})`);

  // Genre centroids: a random direction per genre plus a shared "energy axis", so
  // genres of similar energy sit a little closer together.
  const cScale = CENTROID_NORM / Math.sqrt(dim);
  const axis = new Float64Array(dim);
  for (let k = 0; k < dim; k++) axis[k] = rng.normal();
  const genres: Genre[] = specs.map((s, index) => {
    const centroid = new Float32Array(dim);
    for (let k = 0; k < dim; k++) centroid[k] = cScale * (rng.normal() + 1.5 * (s.energy - 0.5) * axis[k]);
    return { index, name: s.name, energy: s.energy, centroid };
  });

  // Genre sizes vary (0.5x .. 1.5x); largest-remainder rounding to the exact total.
  const sizeWeights = genres.map(() => 0.5 + rng.float());
  const wsum = sizeWeights.reduce((a, b) => a + b, 0);
  // Every genre gets at least one track; the rest is spread by weight.
  const raw = sizeWeights.map((w) => (w / wsum) * (opts.tracks - G));
  const counts = raw.map((r) => 1 + Math.floor(r));
  let left = opts.tracks - counts.reduce((a, b) => a + b, 0);
  const order = raw.map((r, i) => [r - Math.floor(r), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let i = 0; left > 0; i = (i + 1) % G, left--) counts[order[i][1]]++;

  // Genre of each track id, shuffled so ids are not grouped by genre.
  const assignment: number[] = [];
  counts.forEach((c, g) => {
    for (let i = 0; i < c; i++) assignment.push(g);
  });
  rng.shuffle(assignment);

  // Artists: a pool per genre, about 8 tracks each.
  const artists: string[][] = counts.map((c) => {
    const n = Math.max(1, Math.ceil(c / 8));
    const names: string[] = [];
    for (let i = 0; i < n; i++) names.push(artistName(rng));
    return names;
  });

  // Style directions: random, scaled so one style unit moves a track by STYLE_NORM.
  const S = STYLE_AXES.length;
  const sScale = STYLE_NORM / Math.sqrt(dim);
  const styleDirs = new Float64Array(S * dim);
  for (let i = 0; i < S * dim; i++) styleDirs[i] = sScale * rng.normal();
  const trackStyle = new Float32Array(opts.tracks * S);

  const nScale = NOISE_NORM / Math.sqrt(dim);
  const rankInGenre = new Int32Array(G);
  const trackGenre = new Int32Array(opts.tracks);
  const tracks: WorldTrack[] = [];
  let spreadSum = 0;
  for (let i = 0; i < opts.tracks; i++) {
    const g = assignment[i];
    trackGenre[i] = g;
    const c = genres[g].centroid;
    const emb = new Float32Array(dim);
    if (G > 1 && rng.bernoulli(BRIDGE_SHARE)) {
      // A bridge track: part of the way towards another genre, still nearer its own.
      let other = rng.int(G - 1);
      if (other >= g) other++;
      const lambda = rng.uniform(0.25, 0.42);
      const c2 = genres[other].centroid;
      for (let k = 0; k < dim; k++) emb[k] = (1 - lambda) * c[k] + lambda * c2[k] + nScale * rng.normal();
    } else {
      for (let k = 0; k < dim; k++) emb[k] = c[k] + nScale * rng.normal();
    }
    for (let a = 0; a < S; a++) {
      const v = STYLE_SPREAD * rng.normal();
      trackStyle[i * S + a] = v;
      for (let k = 0; k < dim; k++) emb[k] += v * styleDirs[a * dim + k];
    }
    let d2 = 0;
    for (let k = 0; k < dim; k++) d2 += (emb[k] - c[k]) ** 2;
    spreadSum += Math.sqrt(d2);
    // Popularity rank: tracks of a genre get ranks in id order after the shuffle (random).
    const rank = rankInGenre[g]++;
    const calm = genres[g].energy < 0.2 ? 1.5 : 1;
    const durationMs = Math.round(calm * 1000 * Math.exp(Math.log(215) + 0.25 * rng.normal()));
    const pool = artists[g];
    tracks.push({
      externalId: `t${String(i + 1).padStart(5, "0")}`,
      title: trackTitle(rng),
      artist: pool[rng.int(pool.length)],
      genre: genres[g].name,
      embedding: emb,
      popularity: 1 / Math.pow(rank + 1, ZIPF_EXPONENT),
      durationMs: Math.min(900_000, Math.max(60_000, durationMs)),
    });
  }

  const genreTracks: Int32Array[] = counts.map((c) => new Int32Array(c));
  const fill = new Int32Array(G);
  for (let i = 0; i < opts.tracks; i++) genreTracks[trackGenre[i]][fill[trackGenre[i]]++] = i;
  const genreCumPopularity = genreTracks.map((ids) => {
    const cum = new Float64Array(ids.length);
    let s = 0;
    for (let j = 0; j < ids.length; j++) cum[j] = s += tracks[ids[j]].popularity;
    return cum;
  });

  return {
    genres,
    tracks,
    trackGenre,
    genreTracks,
    genreCumPopularity,
    trackStyle,
    spread: opts.tracks > 0 ? spreadSum / opts.tracks : NOISE_NORM,
  };
}
