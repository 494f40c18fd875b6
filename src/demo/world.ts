/**
 * The synthetic music world: Rubato's default demo data.
 *
 * `generateWorld(options)` builds a catalogue of tracks (embeddings clustered by
 * genre) and a population of users (each of a hidden persona), and returns a
 * re-iterable, deterministic stream of plays ordered by user then time. Pure
 * code: no I/O, no Math.random. The generative story is documented in
 * docs/demo-world.md.
 */
import { buildCatalog, defaultGenreCount, Genre, STANDARD_GENRES, STYLE_AXES, WorldTrack } from "./catalog";
import { behaviourRates, DAYPART_STYLE, DAYPART_TARGET_ENERGY, Persona, PERSONAS } from "./personas";
import { Rng } from "../random";

export type { Genre, WorldTrack } from "./catalog";
export type { Persona } from "./personas";

export interface WorldOptions {
  users: number;
  tracks: number;
  days: number;
  seed: number;
  /** Embedding dimension (default 80, as in the paper). */
  dim?: number;
  /** Number of genres (default 16; fewer for catalogues under 160 tracks). */
  genres?: number;
  /** First instant of the world (default 2026-10-01T00:00:00Z). */
  start?: Date;
  /** Mean plays per user per day before per-user variation (default 5.4: ~150 plays in 28 days). */
  playsPerDay?: number;
}

export type ResolvedWorldOptions = Required<WorldOptions>;

export interface WorldEvent {
  userExternalId: string;
  trackExternalId: string;
  playedAt: Date;
  skipped: boolean;
  /** True on the play where the user liked the track (at most once per user and track). */
  liked: boolean;
  /** True on the play where the user added the track to a playlist (at most once per user and track). */
  addedToPlaylist: boolean;
  /** The user restarted the track from the beginning during this play. */
  restarted: boolean;
  msPlayed: number;
}

/** A user and their hidden ground truth (not part of the event stream). */
export interface WorldUser {
  externalId: string;
  persona: string;
  /** Preferred style [energy, valence, acousticness]. */
  style: number[];
  /** Expected plays per day. */
  playsPerDay: number;
}

export interface World {
  options: ResolvedWorldOptions;
  genres: Genre[];
  tracks: WorldTrack[];
  users: WorldUser[];
  personas: ReadonlyArray<Persona>;
  /** All plays, ordered by user (u00001 first) then time. Each call starts a fresh, identical stream. */
  events(): Generator<WorldEvent>;
  /** The plays of one user (index into `users`), in time order. */
  userEvents(userIndex: number): WorldEvent[];
}

export const DEFAULT_WORLD_START = new Date("2026-10-01T00:00:00Z");
/** Size the app uses by default: about 300,000 plays. */
export const DEFAULT_WORLD_SIZE = { users: 2000, tracks: 5000, days: 28 } as const;

/**
 * Parameters of the generative story (see docs/demo-world.md). Tuned so that both
 * speeds of signal carry information about the next track (src/demo/signal-check.ts).
 */
const P = {
  /** Log-normal spread of a user's genre taste around the persona prior (users have favourite genres). */
  tasteSpread: 1.5,
  /** Floor added to every genre of a persona prior. */
  tasteFloor: 0.02,
  /** Daily random walk of the taste logits, and its pull back to the user's base taste. */
  tasteDrift: 0.12,
  tastePull: 0.1,
  /** Spread of a user's style around the persona's (style units). */
  styleSpread: 0.9,
  /** Per-user log-normal noise on behaviour rates beyond what the style implies. */
  rateNoise: 0.05,
  /** How much the daily rhythm leans with the user's style deviation. */
  rhythmTilt: 1,
  rhythmNoise: 0.15,
  /** Per-play persistence of the fast mood (AR(1) coefficient) and its stationary spread (style units). */
  moodPersistence: 0.3,
  moodSpread: 1.4,
  /** Candidate tracks drawn per play, and how sharply the mood picks among them (style units). */
  candidates: 32,
  pickWidth: 0.3,
  /** Genre stay probability is multiplied by this right after a skip. */
  stayAfterSkip: 0.9,
  /** How strongly likes and playlist adds favour the user's favourite genres (0 = not at all, 1 = only). */
  tasteFitEffect: 0.3,
  /** Floor of the daypart affinity of a genre (higher = weaker time-of-day effect on genres). */
  daypartFloor: 1,
} as const;

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** Daypart (0 night, 1 morning, 2 afternoon, 3 evening) of an instant, in UTC. */
export function daypartOf(date: Date | number): number {
  const ms = typeof date === "number" ? date : date.getTime();
  const hour = Math.floor((((ms % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS);
  return Math.floor(hour / 6);
}

interface UserModel {
  index: number;
  externalId: string;
  persona: number;
  baseLogits: Float64Array;
  like: number;
  playlist: number;
  restart: number;
  skipBias: number;
  stay: number;
  replay: number;
  style: Float64Array;
  rhythm: Float64Array;
  sessionLength: number;
  sessionsPerDay: number;
}

function resolveOptions(o: WorldOptions): ResolvedWorldOptions {
  const check = (name: string, v: number, min: number): void => {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`world option ${name} must be an integer >= ${min}, got ${v}`);
  };
  check("users", o.users, 0);
  check("tracks", o.tracks, 1);
  check("days", o.days, 1);
  check("seed", o.seed, -(2 ** 31));
  const dim = o.dim ?? 80;
  check("dim", dim, 2);
  const genres = o.genres ?? defaultGenreCount(o.tracks);
  check("genres", genres, 1);
  const playsPerDay = o.playsPerDay ?? 5.4;
  if (!(playsPerDay > 0)) throw new RangeError(`world option playsPerDay must be > 0, got ${playsPerDay}`);
  const start = o.start ?? DEFAULT_WORLD_START;
  if (Number.isNaN(start.getTime())) throw new RangeError("world option start is an invalid date");
  return { users: o.users, tracks: o.tracks, days: o.days, seed: o.seed, dim, genres, start: new Date(start.getTime()), playsPerDay };
}

/** Persona taste priors over the world's genres (a genre missing from a small world maps to the nearest energy). */
function personaMixtures(genres: Genre[]): Float64Array[] {
  return PERSONAS.map((p) => {
    const mix = new Float64Array(genres.length);
    let total = 0;
    for (const [name, w] of Object.entries(p.taste)) {
      let g = genres.findIndex((x) => x.name === name);
      if (g < 0) {
        const energy = STANDARD_GENRES.find((s) => s.name === name)?.energy ?? 0.5;
        let best = Infinity;
        for (const x of genres) {
          const d = Math.abs(x.energy - energy);
          if (d < best) {
            best = d;
            g = x.index;
          }
        }
      }
      mix[g] += w;
      total += w;
    }
    // A small floor: every persona occasionally plays anything.
    for (let g = 0; g < mix.length; g++) mix[g] = mix[g] / total + P.tasteFloor;
    return mix;
  });
}

function logNormal(rng: Rng, sd: number): number {
  return Math.exp(sd * rng.normal() - (sd * sd) / 2);
}

export function generateWorld(options: WorldOptions): World {
  const opts = resolveOptions(options);
  const { dim, seed } = opts;
  const catalog = buildCatalog({ tracks: opts.tracks, dim, genres: opts.genres, seed });
  const { genres, tracks, trackGenre, genreTracks, genreCumPopularity, trackStyle } = catalog;
  const G = genres.length;
  const S = STYLE_AXES.length;
  const mixtures = personaMixtures(genres);
  const personaShares = PERSONAS.map((p) => p.share);
  const shareTotal = personaShares.reduce((a, b) => a + b, 0);
  const meanActivity = PERSONAS.reduce((a, p) => a + p.share * p.activity, 0) / shareTotal;

  // Daypart affinity of each genre: a floor plus a bump around the daypart's favoured energy.
  const affinity: Float64Array[] = DAYPART_TARGET_ENERGY.map((target) => {
    const a = new Float64Array(G);
    for (let g = 0; g < G; g++) a[g] = P.daypartFloor + Math.exp(-((genres[g].energy - target) ** 2) / (2 * 0.22 ** 2));
    return a;
  });

  const users: UserModel[] = [];
  for (let u = 0; u < opts.users; u++) {
    const rng = new Rng(seed, 2, u);
    const persona = rng.weighted(personaShares);
    const p = PERSONAS[persona];
    const baseLogits = new Float64Array(G);
    for (let g = 0; g < G; g++) baseLogits[g] = Math.log(mixtures[persona][g]) + P.tasteSpread * rng.normal();
    // The user's own style deviates from the persona's; behaviour rates and rhythm follow it.
    const dev = [rng.normal(), rng.normal(), rng.normal()].map((z) => P.styleSpread * z);
    const style = Float64Array.from(p.style, (v, a) => v + dev[a]);
    const rates = behaviourRates(style);
    // Energetic: later in the day; upbeat: mornings; acoustic: afternoons.
    const tilt = [0.8 * dev[0] - 0.4 * dev[2], 0.8 * dev[1], 0.8 * dev[2], 0.4 * dev[0]];
    const rhythm = new Float64Array(4);
    for (let d = 0; d < 4; d++) rhythm[d] = p.rhythm[d] * Math.exp(P.rhythmTilt * tilt[d]) * logNormal(rng, P.rhythmNoise) + 0.005;
    const activity = (p.activity / meanActivity) * logNormal(rng, 0.6);
    const sessionLength = Math.max(2, p.sessionLength * logNormal(rng, 0.2));
    users.push({
      index: u,
      externalId: `u${String(u + 1).padStart(5, "0")}`,
      persona,
      baseLogits,
      like: rates.like * logNormal(rng, P.rateNoise),
      playlist: rates.playlist * logNormal(rng, P.rateNoise),
      restart: rates.restart * logNormal(rng, P.rateNoise),
      skipBias: p.skipBias + 0.3 * rng.normal(),
      stay: Math.min(0.995, Math.max(0.5, p.stay + 0.01 * rng.normal())),
      replay: p.replay * logNormal(rng, 0.25),
      style,
      rhythm,
      sessionLength,
      sessionsPerDay: (activity * opts.playsPerDay) / sessionLength,
    });
  }

  const startMs = opts.start.getTime();
  const endMs = startMs + opts.days * DAY_MS;
  const innovation = P.moodSpread * Math.sqrt(1 - P.moodPersistence ** 2);

  function* simulate(user: UserModel): Generator<WorldEvent> {
    const rng = new Rng(seed, 3, user.index);
    const logits = Float64Array.from(user.baseLogits);
    const taste = new Float64Array(G);
    let maxTaste = 0;
    const refreshTaste = (): void => {
      let m = -Infinity;
      for (let g = 0; g < G; g++) m = Math.max(m, logits[g]);
      let s = 0;
      for (let g = 0; g < G; g++) s += taste[g] = Math.exp(logits[g] - m);
      maxTaste = 0;
      for (let g = 0; g < G; g++) {
        taste[g] /= s;
        maxTaste = Math.max(maxTaste, taste[g]);
      }
    };
    refreshTaste();
    const weights = new Float64Array(G);
    /** A genre from the slow taste, nudged by the time of day. */
    const drawGenre = (daypart: number): number => {
      const a = affinity[daypart];
      for (let g = 0; g < G; g++) weights[g] = taste[g] * a[g];
      return rng.weighted(weights);
    };
    const likedByGenre: number[][] = Array.from({ length: G }, () => []);
    const liked = new Set<number>();
    const playlisted = new Set<number>();
    const mood = new Float64Array(S); // the fast mood: a point on the style axes
    const candidates = new Int32Array(P.candidates);
    const candWeights = new Float64Array(P.candidates);
    const pickScale = 1 / (2 * P.pickWidth ** 2);
    let clock = startMs;

    for (let day = 0; day < opts.days; day++) {
      if (day > 0) {
        // Slow drift of the taste, pulled back towards the user's own base taste.
        for (let g = 0; g < G; g++) logits[g] += P.tasteDrift * rng.normal() - P.tastePull * (logits[g] - user.baseLogits[g]);
        refreshTaste();
      }
      const dayStart = startMs + day * DAY_MS;
      const n = rng.poisson(user.sessionsPerDay);
      const starts: number[] = [];
      for (let i = 0; i < n; i++) {
        const part = rng.weighted(user.rhythm);
        starts.push(dayStart + part * 6 * HOUR_MS + Math.floor(rng.float() * 6 * HOUR_MS));
      }
      starts.sort((a, b) => a - b);

      for (const s0 of starts) {
        let t = Math.max(s0, clock + 120_000 + rng.int(600_000));
        if (t >= endMs) break;
        const length = 1 + rng.geometric(1 / user.sessionLength);
        let part = daypartOf(t);
        // A session opens in a genre from the slow taste, with a fresh mood around the user's style.
        let genre = drawGenre(part);
        for (let a = 0; a < S; a++) mood[a] = user.style[a] + DAYPART_STYLE[part][a] + P.moodSpread * rng.normal();
        let lastSkipped = false;
        let lastGenre = genre;

        for (let step = 0; step < length && t < endMs; step++) {
          part = daypartOf(t);
          if (step > 0) {
            // The mood drifts (AR(1)) around the user's style, shifted by the daypart (calmer at night).
            const shift = DAYPART_STYLE[part];
            for (let a = 0; a < S; a++) {
              const centre = user.style[a] + shift[a];
              mood[a] = centre + P.moodPersistence * (mood[a] - centre) + innovation * rng.normal();
            }
            // Stay in the genre, or jump per the slow taste (more likely right after a skip).
            if (!rng.bernoulli(lastSkipped ? user.stay * P.stayAfterSkip : user.stay)) genre = drawGenre(part);
          }

          // Candidates of the genre (a liked favourite, or by popularity); the mood picks among them.
          const favs = likedByGenre[genre];
          let wsum = 0;
          for (let c = 0; c < P.candidates; c++) {
            const tr =
              favs.length > 0 && rng.bernoulli(user.replay)
                ? favs[rng.int(favs.length)]
                : genreTracks[genre][rng.fromCumulative(genreCumPopularity[genre])];
            candidates[c] = tr;
            let d2 = 0;
            for (let a = 0; a < S; a++) d2 += (trackStyle[tr * S + a] - mood[a]) ** 2;
            wsum += candWeights[c] = Math.exp(-d2 * pickScale);
          }
          let pick = P.candidates - 1;
          let r = rng.float() * wsum;
          for (let c = 0; c < P.candidates; c++) {
            r -= candWeights[c];
            if (r < 0) {
              pick = c;
              break;
            }
          }
          const track = candidates[pick];
          const info = tracks[track];
          const tg = trackGenre[track];
          let d2 = 0;
          for (let a = 0; a < S; a++) d2 += (trackStyle[track * S + a] - mood[a]) ** 2;
          const moodDist = Math.sqrt(d2); // distance to the mood on the style axes
          const fit = taste[tg] / maxTaste; // 1 = the user's favourite genre
          const isLiked = liked.has(track);

          // Skips: far from the mood, outside the taste, right after a genre change; rarely a liked track.
          const skipLogit = -1.8 + user.skipBias + 0.9 * (moodDist - 1) - 1.2 * (fit - 0.5) + 0.4 * (tg !== lastGenre ? 1 : 0) - (isLiked ? 1 : 0);
          const skipped = rng.float() < 1 / (1 + Math.exp(-skipLogit));
          let likedNow = false;
          let added = false;
          let restarted = false;
          let msPlayed: number;
          if (skipped) {
            msPlayed = 2_000 + rng.int(28_000);
          } else {
            // Likes and playlist adds lean to the favourite genres; restarts need a strong match.
            const tasteFactor = 1 - P.tasteFitEffect + 2 * P.tasteFitEffect * fit;
            if (!isLiked && rng.bernoulli(Math.min(0.9, user.like * tasteFactor))) {
              likedNow = true;
              liked.add(track);
              likedByGenre[tg].push(track);
            }
            if (!playlisted.has(track) && rng.bernoulli(Math.min(0.9, user.playlist * tasteFactor))) {
              added = true;
              playlisted.add(track);
            }
            const match = Math.exp(-Math.max(0, moodDist - 0.5)) * (0.5 + fit) * (liked.has(track) ? 1.5 : 1);
            restarted = rng.bernoulli(Math.min(0.9, user.restart * match));
            msPlayed = rng.bernoulli(0.15) ? Math.round(info.durationMs * rng.uniform(0.5, 1)) : info.durationMs;
            if (restarted) msPlayed += Math.round(info.durationMs * rng.uniform(0.1, 1));
          }

          yield {
            userExternalId: user.externalId,
            trackExternalId: info.externalId,
            playedAt: new Date(t),
            skipped,
            liked: likedNow,
            addedToPlaylist: added,
            restarted,
            msPlayed,
          };

          lastSkipped = skipped;
          lastGenre = tg;
          t += msPlayed + 500 + rng.int(6_000);
        }
        clock = t;
      }
    }
  }

  return {
    options: opts,
    genres,
    tracks,
    users: users.map((u) => ({
      externalId: u.externalId,
      persona: PERSONAS[u.persona].name,
      style: Array.from(u.style),
      playsPerDay: u.sessionsPerDay * u.sessionLength,
    })),
    personas: PERSONAS,
    *events() {
      for (const u of users) yield* simulate(u);
    },
    userEvents(userIndex: number) {
      const u = users[userIndex];
      if (!u) throw new RangeError(`no user ${userIndex} (world has ${users.length})`);
      return Array.from(simulate(u));
    },
  };
}
