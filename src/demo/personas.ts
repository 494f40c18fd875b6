/**
 * Personas of the demo world. A persona is the hidden "type" of a user: it sets
 * the slow taste prior (a mixture over genres), the preferred style (where the
 * fast mood is pulled back to), the behaviour rates and the daily rhythm.
 *
 * Behaviour rates follow the style (see `behaviourRates`): energetic listeners
 * restart more, upbeat (high-valence) listeners like more, acoustic listeners
 * add more to playlists. So the aggregates of a history (like, restart and
 * playlist-add counts, time-of-day shares) reveal the persona and the user's
 * style, i.e. the taste the user returns to whenever a mood breaks. The last
 * few plays reveal the current mood. Both speeds of signal carry information.
 */

/** Dayparts: 0 night 0-6h, 1 morning 6-12h, 2 afternoon 12-18h, 3 evening 18-24h (UTC). */
export const DAYPARTS = ["night", "morning", "afternoon", "evening"] as const;
export type Daypart = (typeof DAYPARTS)[number];

/** Genre energy favoured in each daypart: calmer genres at night, livelier in the evening. */
export const DAYPART_TARGET_ENERGY: ReadonlyArray<number> = [0.2, 0.55, 0.45, 0.7];

/** Shift of the fast mood on the style axes [energy, valence, acousticness] per daypart: calmer at night. */
export const DAYPART_STYLE: ReadonlyArray<readonly [number, number, number]> = [
  [-0.5, -0.2, 0.3],
  [0.2, 0.3, 0.0],
  [0.0, 0.0, 0.1],
  [0.3, 0.1, -0.2],
];

export interface Persona {
  name: string;
  /** Relative frequency of the persona among users. */
  share: number;
  /** Slow taste prior: weights over the standard genre names (every genre also gets a small floor). */
  taste: Record<string, number>;
  /** Preferred style [energy, valence, acousticness] (units of the catalogue's style spread). */
  style: [number, number, number];
  /** Share of sessions started in each daypart [night, morning, afternoon, evening]. */
  rhythm: [number, number, number, number];
  /** Relative listening volume (normalised across personas). */
  activity: number;
  /** Mean plays per session. */
  sessionLength: number;
  /** Probability to stay in the current genre at the next play of a session. */
  stay: number;
  /** Offset of the skip log-odds (positive = skips more). */
  skipBias: number;
  /** Probability that a candidate track is one of the user's liked tracks of the genre. */
  replay: number;
}

/** Sensitivity of the behaviour rates to the style: rate = base * exp(STYLE_RATE_GAIN * axis). */
export const STYLE_RATE_GAIN = 1.2;
const BASE_LIKE = 0.08;
const BASE_PLAYLIST = 0.04;
const BASE_RESTART = 0.04;

/** Base per-play probabilities of a like, a playlist add and a restart for a style. */
export function behaviourRates(style: ArrayLike<number>): { like: number; playlist: number; restart: number } {
  return {
    restart: BASE_RESTART * Math.exp(STYLE_RATE_GAIN * style[0]),
    like: BASE_LIKE * Math.exp(STYLE_RATE_GAIN * style[1]),
    playlist: BASE_PLAYLIST * Math.exp(STYLE_RATE_GAIN * style[2]),
  };
}

export const PERSONAS: ReadonlyArray<Persona> = [
  {
    name: "night-owl",
    share: 0.16,
    taste: { electronic: 3, techno: 3, house: 2, ambient: 2, "hip-hop": 1, "lo-fi": 1, pop: 1 },
    style: [1.4, -1.4, -1.4],
    rhythm: [0.55, 0.05, 0.1, 0.3],
    activity: 1.3,
    sessionLength: 11,
    stay: 0.97,
    skipBias: 0.5,
    replay: 0.02,
  },
  {
    name: "commuter",
    share: 0.2,
    taste: { pop: 3, "hip-hop": 2, indie: 2, "r&b": 2, rock: 1, electronic: 1 },
    style: [0.6, 1.4, -0.6],
    rhythm: [0.02, 0.6, 0.13, 0.25],
    activity: 0.8,
    sessionLength: 6,
    stay: 0.96,
    skipBias: 0.1,
    replay: 0.06,
  },
  {
    name: "focus",
    share: 0.14,
    taste: { classical: 3, "lo-fi": 3, ambient: 2, jazz: 2, acoustic: 1, indie: 1 },
    style: [-1.7, 0.0, 1.4],
    rhythm: [0.04, 0.26, 0.62, 0.08],
    activity: 1.2,
    sessionLength: 14,
    stay: 0.99,
    skipBias: -0.8,
    replay: 0.02,
  },
  {
    name: "rocker",
    share: 0.16,
    taste: { rock: 3, metal: 2, indie: 2, pop: 1, folk: 1, electronic: 1 },
    style: [1.8, -0.4, 0.0],
    rhythm: [0.12, 0.08, 0.2, 0.6],
    activity: 1.0,
    sessionLength: 9,
    stay: 0.97,
    skipBias: -0.2,
    replay: 0.1,
  },
  {
    name: "curator",
    share: 0.12,
    taste: { folk: 2, acoustic: 2, soul: 2, jazz: 2, indie: 2, "r&b": 1, classical: 1 },
    style: [-0.8, 0.7, 1.8],
    rhythm: [0.05, 0.15, 0.35, 0.45],
    activity: 0.9,
    sessionLength: 8,
    stay: 0.96,
    skipBias: -0.4,
    replay: 0.03,
  },
  {
    name: "party",
    share: 0.12,
    taste: { "hip-hop": 3, "r&b": 2, house: 2, pop: 2, electronic: 1 },
    style: [1.4, 1.7, -1.7],
    rhythm: [0.38, 0.04, 0.08, 0.5],
    activity: 1.0,
    sessionLength: 10,
    stay: 0.95,
    skipBias: 0.4,
    replay: 0.08,
  },
  {
    name: "casual",
    share: 0.1,
    taste: { pop: 2, indie: 1, soul: 1, rock: 1, acoustic: 1, electronic: 1, jazz: 1, "hip-hop": 1 },
    style: [0.0, 0.3, 0.0],
    rhythm: [0.1, 0.3, 0.3, 0.3],
    activity: 0.5,
    sessionLength: 5,
    stay: 0.93,
    skipBias: 0.2,
    replay: 0.02,
  },
];
