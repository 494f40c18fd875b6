/**
 * Every import parser as a property-test case: an arbitrary well-formed file (a model, and
 * the table written from it), what the store holds after importing it, and the roles of its
 * columns, which say where each mutation goes (test/store/import-properties.test.ts).
 */
import fc from "fast-check";
import { MSSD_FEATURES } from "../../src/store/import/formats/mssd-tracks";
import {
  idArb,
  textArb,
  timeSpellings,
  playMsArb,
  playSecondsArb,
  sortHoldings,
  type Alphabet,
  type Cell,
  type Holdings,
  type StoredPlay,
  type StoredTrack,
  type SyntaxName,
  type Table,
} from "./import-files";

/** Where the mutations go: column names as written in the table. */
export interface Roles {
  /** Stored ids: not blank, at most 1,024 bytes. */
  ids: string[];
  /** Other stored text. */
  texts: string[];
  /** Columns that may not be empty (none in a whitespace-separated file, where a field cannot be empty). */
  required: string[];
  /** Columns where a number goes. */
  numbers: string[];
  /** The time, and how it is written: ISO 8601 or a number (iso), a number of seconds only (seconds), MSSD's date/hour/position. */
  time: { column: string; kind: "iso" | "number" | "seconds" } | { column: string; kind: "mssd" } | null;
  /** A row's fields: exactly the header's (or the format's), at least so many, or JSON keys. */
  fields: "exact" | "at least" | "keys";
  /** The embedding column of a tracks file. */
  embedding?: { column: string; dim: number };
}

export interface ImportCase<M = unknown> {
  name: string;
  kind: "events" | "tracks";
  syntax: SyntaxName;
  ext: string;
  /** --format, for the named formats. */
  format?: string;
  createTracks?: boolean;
  /** A well-formed file; `forMutation`: every column present and a fixed embedding dimension (that of the store's baseline). */
  model(forMutation: boolean): fc.Arbitrary<M>;
  table(model: M): Table;
  expected(model: M): Holdings;
  roles(model: M): Roles;
}

const define = <M>(c: ImportCase<M>) => c as unknown as ImportCase;

const CSV: Alphabet = { extra: [",", '"', "\n", " ", "'"] };
const TSV: Alphabet = { forbid: /\t/, extra: [",", '"', " "] };
const JSONL: Alphabet = { extra: [",", '"', "\n", "\\", " ", "\t"] };

const pick = <T>(xs: readonly T[], r: number): T => xs[r % xs.length];
const trimmedOrNull = (s: string) => s.trim() || null;
const play = (p: Partial<StoredPlay> & Pick<StoredPlay, "user" | "track" | "at">): StoredPlay => ({
  skipped: false,
  liked: false,
  addedToPlaylist: false,
  restarted: false,
  msPlayed: null,
  context: null,
  ...p,
});
const bareTrack = (id: string): StoredTrack => ({ id, title: null, artist: null, genre: null, embedding: null });

/** The users and the created tracks (first details wins; the models keep them equal) of some plays. */
function holdingsOf(plays: StoredPlay[], details: Map<string, StoredTrack> = new Map()): Holdings {
  const tracks = new Map<string, StoredTrack>();
  for (const p of plays) if (!tracks.has(p.track)) tracks.set(p.track, details.get(p.track) ?? bareTrack(p.track));
  return sortHoldings({ users: [...new Set(plays.map((p) => p.user))], tracks: [...tracks.values()], plays });
}

/** Plays over pools of raw ids, unique by what the store keys them by (user, track, time). */
function playsArb<P extends { user: string; track: string; ms: number }>(
  ids: fc.Arbitrary<string>,
  rest: (users: string[], tracks: string[]) => fc.Arbitrary<P>,
  key: (p: P) => string = (p) => JSON.stringify([p.user.trim(), p.track.trim(), p.ms]),
): fc.Arbitrary<P[]> {
  return fc
    .tuple(fc.array(ids, { minLength: 1, maxLength: 4 }), fc.array(ids, { minLength: 1, maxLength: 5 }))
    .chain(([users, tracks]) => fc.uniqueArray(rest(users, tracks), { minLength: 1, maxLength: 8, selector: key }));
}

/** Columns in any order: all of `required`, any of `optional` (all when `all`). */
function columnsArb(required: readonly string[], optional: readonly string[], all: boolean): fc.Arbitrary<string[]> {
  const every = [...required, ...optional];
  return fc
    .tuple(fc.shuffledSubarray(every, { minLength: every.length, maxLength: every.length }), fc.subarray([...optional]))
    .map(([order, chosen]) => order.filter((c) => required.includes(c) || all || chosen.includes(c)));
}

// ---- rubato's own files: events and tracks in CSV, TSV and JSON lines ----

const EVENT_REQUIRED = ["user", "track", "played_at"];
const EVENT_OPTIONAL = ["skipped", "liked", "added_to_playlist", "restarted", "ms_played", "context"];
const FLAGS: [string, boolean][] = [
  ["true", true],
  ["false", false],
  ["1", true],
  ["0", false],
  ["yes", true],
  ["no", false],
  ["Y", true],
  ["f", false],
  ["", false],
  [" TRUE ", true],
];
const JSON_FLAGS: [Cell, boolean][] = [...FLAGS, [true, true], [false, false], [1, true], [0, false], [null, false]];

interface EventsModel {
  columns: string[];
  plays: {
    user: string;
    track: string;
    ms: number;
    spelling: number;
    flags: number[];
    msPlayed: number | null;
    context: string;
  }[];
}

function eventsCase(syntax: "csv" | "tsv" | "jsonl"): ImportCase {
  const alphabet = syntax === "csv" ? CSV : syntax === "tsv" ? TSV : JSONL;
  const flags = syntax === "jsonl" ? JSON_FLAGS : FLAGS;
  const json = syntax === "jsonl";
  const timeCell = (ms: number, spelling: number): Cell => {
    const text = pick(timeSpellings(ms), spelling);
    return json && /^\d+(\.\d+)?$/.test(text) ? Number(text) : text;
  };
  return define<EventsModel>({
    name: `events ${syntax}`,
    kind: "events",
    syntax,
    ext: syntax,
    createTracks: true,
    model: (all) =>
      fc.record({
        columns: columnsArb(EVENT_REQUIRED, EVENT_OPTIONAL, all),
        plays: playsArb(idArb(alphabet), (users, tracks) =>
          fc.record({
            user: fc.constantFrom(...users),
            track: fc.constantFrom(...tracks),
            ms: playMsArb,
            spelling: fc.nat(),
            flags: fc.array(fc.nat({ max: flags.length - 1 }), { minLength: 4, maxLength: 4 }),
            msPlayed: fc.option(fc.integer({ min: 0, max: 2 ** 31 - 1 })),
            context: textArb(alphabet),
          }),
        ),
      }),
    table: (m) => ({
      names: m.columns,
      header: true,
      rows: m.plays.map((p) =>
        m.columns.map((c): Cell => {
          switch (c) {
            case "user":
              return p.user;
            case "track":
              return p.track;
            case "played_at":
              return timeCell(p.ms, p.spelling);
            case "skipped":
            case "liked":
            case "added_to_playlist":
            case "restarted":
              return flags[p.flags[EVENT_OPTIONAL.indexOf(c)]][0];
            case "ms_played":
              return p.msPlayed === null ? (json ? null : "") : json ? p.msPlayed : String(p.msPlayed);
            default:
              return p.context;
          }
        }),
      ),
    }),
    expected: (m) => {
      const has = (c: string) => m.columns.includes(c);
      const flag = (p: EventsModel["plays"][number], c: string) => has(c) && flags[p.flags[EVENT_OPTIONAL.indexOf(c)]][1];
      return holdingsOf(
        m.plays.map((p) =>
          play({
            user: p.user.trim(),
            track: p.track.trim(),
            at: new Date(p.ms).toISOString(),
            skipped: flag(p, "skipped"),
            liked: flag(p, "liked"),
            addedToPlaylist: flag(p, "added_to_playlist"),
            restarted: flag(p, "restarted"),
            msPlayed: has("ms_played") ? p.msPlayed : null,
            context: has("context") && p.context !== "" ? p.context : null,
          }),
        ),
      );
    },
    roles: (m) => ({
      ids: ["user", "track"],
      texts: m.columns.includes("context") ? ["context"] : [],
      required: EVENT_REQUIRED,
      numbers: ["played_at", ...(m.columns.includes("ms_played") ? ["ms_played"] : [])],
      time: { column: "played_at", kind: "iso" },
      fields: json ? "keys" : "exact",
    }),
  });
}

interface TracksModel {
  columns: string[];
  dim: number;
  tracks: { id: string; title: string; artist: string; genre: string; embedding: number[] | null; spelling: number }[];
}

const TRACK_OPTIONAL = ["title", "artist", "genre", "embedding"];
/** The dimension of the store's catalogue in the mutation tests (set by their baseline file). */
const MUTATION_DIM = 4;

function tracksCase(syntax: "csv" | "tsv" | "jsonl"): ImportCase {
  const alphabet = syntax === "csv" ? CSV : syntax === "tsv" ? TSV : JSONL;
  const json = syntax === "jsonl";
  const embeddingCell = (e: number[] | null, spelling: number): Cell => {
    if (e === null) return json ? null : "";
    const spellings: Cell[] = [JSON.stringify(e), e.join(" "), e.join(";"), e.join("|"), `{${e.join(",")}}`, e.join(", ")];
    return pick(json ? [e as unknown as Cell, ...spellings] : spellings, spelling);
  };
  return define<TracksModel>({
    name: `tracks ${syntax}`,
    kind: "tracks",
    syntax,
    ext: syntax,
    model: (all) =>
      fc
        .record({ columns: columnsArb(["id"], TRACK_OPTIONAL, all), dim: all ? fc.constant(MUTATION_DIM) : fc.integer({ min: 1, max: 8 }) })
        .chain(({ columns, dim }) =>
          fc.record({
            columns: fc.constant(columns),
            dim: fc.constant(dim),
            tracks: fc.uniqueArray(
              fc.record({
                id: idArb(alphabet),
                title: textArb(alphabet),
                artist: textArb(alphabet),
                genre: textArb(alphabet),
                embedding: fc.option(fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: dim, maxLength: dim }), {
                  freq: 4,
                }),
                spelling: fc.nat(),
              }),
              { minLength: 1, maxLength: 8, selector: (t) => t.id.trim() },
            ),
          }),
        ),
    table: (m) => ({
      names: m.columns,
      header: true,
      rows: m.tracks.map((t) =>
        m.columns.map((c): Cell => (c === "id" ? t.id : c === "embedding" ? embeddingCell(t.embedding, t.spelling) : t[c as "title"])),
      ),
    }),
    expected: (m) => {
      const has = (c: string) => m.columns.includes(c);
      const text = (c: "title" | "artist" | "genre", v: string) => (has(c) && v !== "" ? v : null);
      return sortHoldings({
        users: [],
        plays: [],
        tracks: m.tracks.map((t) => ({
          id: t.id.trim(),
          title: text("title", t.title),
          artist: text("artist", t.artist),
          genre: text("genre", t.genre),
          embedding: has("embedding") && t.embedding ? t.embedding.map(Math.fround) : null,
        })),
      });
    },
    roles: (m) => ({
      ids: ["id"],
      texts: m.columns.filter((c) => ["title", "artist", "genre"].includes(c)),
      required: ["id"],
      numbers: m.columns.includes("embedding") ? ["embedding"] : [],
      time: null,
      fields: json ? "keys" : "exact",
      embedding: m.columns.includes("embedding") ? { column: "embedding", dim: m.dim } : undefined,
    }),
  });
}

// ---- the public data sets' formats ----

const LASTFM_COLUMNS = ["userid", "timestamp", "artid", "artname", "traid", "traname"];

interface LastfmModel {
  tracks: { traid: string; artist: string; title: string }[];
  plays: { user: string; track: string; ms: number; artid: string }[];
}

const lastfmTrackId = (t: LastfmModel["tracks"][number]) => t.traid.trim() || `${t.artist.trim()} — ${t.title.trim()}`;

const lastfm1k = define<LastfmModel>({
  name: "lastfm1k",
  kind: "events",
  syntax: "tsv",
  ext: "tsv",
  format: "lastfm1k",
  model: () =>
    fc
      .uniqueArray(
        fc
          .record({ traid: fc.oneof(fc.constant(""), idArb(TSV)), artist: textArb(TSV, 120), title: textArb(TSV, 120) })
          .filter((t) => t.traid.trim() !== "" || (t.artist.trim() !== "" && t.title.trim() !== "")),
        { minLength: 1, maxLength: 5, selector: lastfmTrackId },
      )
      .chain((tracks) =>
        fc.record({
          tracks: fc.constant(tracks),
          plays: playsArb(
            idArb(TSV),
            (users) =>
              fc.record({
                user: fc.constantFrom(...users),
                track: fc.constantFrom(...tracks.map(lastfmTrackId)),
                ms: playSecondsArb.map((s) => s * 1000),
                artid: fc.oneof(fc.constant(""), idArb(TSV)),
              }),
            (p) => JSON.stringify([p.user.trim(), p.track, p.ms]),
          ),
        }),
      ),
  table: (m) => ({
    names: LASTFM_COLUMNS,
    header: false,
    rows: m.plays.map((p) => {
      const t = m.tracks.find((x) => lastfmTrackId(x) === p.track)!;
      return [p.user, new Date(p.ms).toISOString().replace(".000Z", "Z"), p.artid, t.artist, t.traid, t.title];
    }),
  }),
  expected: (m) =>
    holdingsOf(
      m.plays.map((p) => play({ user: p.user.trim(), track: p.track, at: new Date(p.ms).toISOString() })),
      new Map(
        m.tracks.map((t) => [
          lastfmTrackId(t),
          { ...bareTrack(lastfmTrackId(t)), title: trimmedOrNull(t.title), artist: trimmedOrNull(t.artist) },
        ]),
      ),
    ),
  roles: () => ({
    ids: ["userid", "traid"],
    texts: ["artname", "traname"],
    required: ["userid", "timestamp"],
    numbers: ["timestamp"],
    time: { column: "timestamp", kind: "iso" },
    fields: "exact",
  }),
});

/** Header names the sessions format recognises: no id may look like one, or a headerless file's first line would be a header. */
const SESSION_NAMES = [
  "userid",
  "user",
  "sessionid",
  "session",
  "itemid",
  "item",
  "trackid",
  "track",
  "time",
  "timestamp",
  "artistid",
  "artist",
];
/** The logs' ids are mostly numbers (so a column shifted by a missing field still parses). */
const SESSION_ID = fc.oneof(
  fc.nat().map(String),
  idArb({ forbid: /\s/, extra: [",", '"', "_"] }).filter((s) => !SESSION_NAMES.includes(s.toLowerCase().replace(/_/g, ""))),
);
const SESSION_SPELLINGS: Record<string, string[]> = {
  user: ["UserId", "user_id", "USERID", "User"],
  session: ["SessionId", "session_id", "Session"],
  item: ["ItemId", "item_id", "TrackId", "Track", "item"],
  time: ["Time", "timestamp", "TIME"],
  artist: ["ArtistId", "artist_id", "Artist"],
};

interface SessionsModel {
  /** The header's columns in order (logical names), or null: no header, UserId SessionId ItemId Time. */
  header: string[] | null;
  spelling: number;
  artists: string[];
  plays: { user: string; session: string; track: string; ms: number; seconds: string }[];
}

const sessionUser = (m: SessionsModel, p: SessionsModel["plays"][number]) => (m.header && !m.header.includes("user") ? p.session : p.user);
const artistOf = (m: SessionsModel, track: string) => m.artists[[...track].reduce((h, c) => h + c.codePointAt(0)!, 0) % m.artists.length];

const sessions = define<SessionsModel>({
  name: "sessions",
  kind: "events",
  syntax: "spaces",
  ext: "txt",
  format: "sessions",
  model: (all) =>
    fc
      .record({
        // The mutations always have a header, whose column count a row must reach.
        header: all
          ? columnsArb(["session", "item", "time"], ["user", "artist"], true)
          : fc.option(columnsArb(["session", "item", "time"], ["user", "artist"], false), { freq: 3 }),
        spelling: fc.nat(),
        artists: fc.array(SESSION_ID, { minLength: 1, maxLength: 3 }),
        plays: playsArb(SESSION_ID, (users, tracks) =>
          fc
            .record({
              user: fc.constantFrom(...users),
              session: fc.constantFrom(...users, ...tracks),
              track: fc.constantFrom(...tracks),
              whole: playSecondsArb,
              fraction: fc.constantFrom("", ".5", ".25", ".125"),
            })
            .map(({ whole, fraction, ...p }) => ({
              ...p,
              seconds: `${whole}${fraction}`,
              ms: whole * 1000 + Number(`0${fraction}`) * 1000,
            })),
        ),
      })
      .filter((m) => new Set(m.plays.map((p) => JSON.stringify([sessionUser(m, p), p.track, p.ms]))).size === m.plays.length),
  table: (m) => {
    const columns = m.header ?? ["user", "session", "item", "time"];
    return {
      names: columns.map((c, i) => pick(SESSION_SPELLINGS[c], m.spelling + i)),
      header: m.header !== null,
      rows: m.plays.map((p) =>
        columns.map((c) =>
          c === "user" ? p.user : c === "session" ? p.session : c === "item" ? p.track : c === "time" ? p.seconds : artistOf(m, p.track),
        ),
      ),
    };
  },
  expected: (m) =>
    holdingsOf(
      m.plays.map((p) => play({ user: sessionUser(m, p), track: p.track, at: new Date(p.ms).toISOString(), context: p.session })),
      new Map(m.plays.map((p) => [p.track, { ...bareTrack(p.track), artist: m.header?.includes("artist") ? artistOf(m, p.track) : null }])),
    ),
  roles: (m) => {
    const columns = m.header ?? ["user", "session", "item", "time"];
    const name = (c: string) => pick(SESSION_SPELLINGS[c], m.spelling + columns.indexOf(c));
    return {
      ids: columns.filter((c) => ["user", "session", "item"].includes(c)).map(name),
      texts: columns.includes("artist") ? [name("artist")] : [],
      required: [],
      numbers: [name("time")],
      time: { column: name("time"), kind: "seconds" },
      fields: "at least",
    };
  },
});

const MSSD_COLUMNS = [
  "session_id",
  "session_position",
  "session_length",
  "track_id_clean",
  "skip_1",
  "skip_2",
  "skip_3",
  "not_skipped",
  "context_switch",
  "no_pause_before_play",
  "short_pause_before_play",
  "long_pause_before_play",
  "hist_user_behavior_n_seekfwd",
  "hist_user_behavior_n_seekback",
  "hist_user_behavior_is_shuffle",
  "hour_of_day",
  "date",
  "premium",
  "context_type",
  "hist_user_behavior_reason_start",
  "hist_user_behavior_reason_end",
];
const MSSD_SKIPS: [string, boolean][] = [
  ["True", true],
  ["False", false],
  ["true", true],
  ["0", false],
];
const REASONS = ["trackdone", "fwdbtn", "backbtn", "clickrow", "appload", " backbtn "];
const DAYS_2000_2099 = (Date.UTC(2100, 0, 1) - Date.UTC(2000, 0, 1)) / 86_400_000;

interface MssdModel {
  plays: {
    user: string;
    track: string;
    day: number;
    hour: number;
    position: number;
    skip: number;
    reason: string;
    context: string;
    ms: number;
  }[];
}

const mssdDate = (day: number) => {
  const d = new Date(Date.UTC(2000, 0, 1) + day * 86_400_000);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getUTCDate())}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCFullYear() % 100)}`;
};

const mssd = define<MssdModel>({
  name: "mssd",
  kind: "events",
  syntax: "csv",
  ext: "csv",
  format: "mssd",
  model: () =>
    fc.record({
      plays: playsArb(idArb(CSV), (users, tracks) =>
        fc
          .record({
            user: fc.constantFrom(...users),
            track: fc.constantFrom(...tracks),
            day: fc.integer({ min: 0, max: DAYS_2000_2099 - 1 }),
            hour: fc.integer({ min: 0, max: 23 }),
            position: fc.integer({ min: 1, max: 3599 }),
            skip: fc.nat({ max: MSSD_SKIPS.length - 1 }),
            reason: fc.constantFrom(...REASONS),
            context: fc.oneof(fc.constantFrom("user_collection", "editorial_playlist", "catalog", ""), textArb(CSV)),
          })
          .map((p) => ({ ...p, ms: Date.UTC(2000, 0, 1) + p.day * 86_400_000 + p.hour * 3_600_000 + p.position * 1000 })),
      ),
    }),
  table: (m) => ({
    names: MSSD_COLUMNS,
    header: true,
    rows: m.plays.map((p) =>
      MSSD_COLUMNS.map((c) => {
        const values: Record<string, string> = {
          session_id: p.user,
          session_position: String(p.position),
          track_id_clean: p.track,
          skip_2: MSSD_SKIPS[p.skip][0],
          hour_of_day: String(p.hour),
          date: mssdDate(p.day),
          context_type: p.context,
          hist_user_behavior_reason_start: p.reason,
        };
        return values[c] ?? (c.startsWith("skip") || c.startsWith("hist") ? "False" : "0");
      }),
    ),
  }),
  expected: (m) =>
    holdingsOf(
      m.plays.map((p) =>
        play({
          user: p.user.trim(),
          track: p.track.trim(),
          at: new Date(p.ms).toISOString(),
          skipped: MSSD_SKIPS[p.skip][1],
          restarted: p.reason.trim() === "backbtn",
          context: trimmedOrNull(p.context),
        }),
      ),
    ),
  roles: () => ({
    ids: ["session_id", "track_id_clean"],
    texts: ["context_type"],
    required: ["session_id", "track_id_clean", "session_position", "hour_of_day", "date"],
    numbers: ["session_position", "hour_of_day"],
    time: { column: "date", kind: "mssd" },
    fields: "exact",
  }),
});

const RATINGS: [string, boolean][] = [
  ["0.5", false],
  ["3.5", false],
  ["3.99", false],
  ["4", true],
  ["4.0", true],
  ["4.5", true],
  ["5.0", true],
];

interface MovielensModel {
  plays: { user: string; track: string; ms: number; rating: number }[];
}

const movielens = define<MovielensModel>({
  name: "movielens",
  kind: "events",
  syntax: "csv",
  ext: "csv",
  format: "movielens",
  model: () =>
    fc.record({
      plays: playsArb(idArb(CSV), (users, tracks) =>
        fc.record({
          user: fc.constantFrom(...users),
          track: fc.constantFrom(...tracks),
          ms: playSecondsArb.map((s) => s * 1000),
          rating: fc.nat({ max: RATINGS.length - 1 }),
        }),
      ),
    }),
  table: (m) => ({
    names: ["userId", "movieId", "rating", "timestamp"],
    header: true,
    rows: m.plays.map((p) => [p.user, p.track, RATINGS[p.rating][0], String(p.ms / 1000)]),
  }),
  expected: (m) =>
    holdingsOf(
      m.plays.map((p) =>
        play({ user: p.user.trim(), track: p.track.trim(), at: new Date(p.ms).toISOString(), liked: RATINGS[p.rating][1] }),
      ),
    ),
  roles: () => ({
    ids: ["userId", "movieId"],
    texts: [],
    required: ["userId", "movieId", "rating", "timestamp"],
    numbers: ["rating", "timestamp"],
    time: { column: "timestamp", kind: "number" },
    fields: "exact",
  }),
});

interface MssdTracksModel {
  tracks: { id: string; features: string[] }[];
}

const MODES = ["major", "minor", "Major", " minor "];
const featureArb = (name: string) =>
  name === "mode"
    ? fc.constantFrom(...MODES)
    : fc.oneof(
        fc.integer({ min: -1000, max: 1000 }).map(String),
        fc.integer({ min: -99999, max: 99999 }).map((n) => (n / 1000).toString()),
      );

/** The z-scores the format promises: (x - mean) / population standard deviation, 0 for a constant column. */
function zScores(rows: number[][]): number[][] {
  const n = rows.length;
  const dim = rows[0].length;
  const mean = Array.from({ length: dim }, (_, j) => rows.reduce((s, r) => s + r[j], 0) / n);
  const sd = Array.from({ length: dim }, (_, j) => Math.sqrt(rows.reduce((s, r) => s + (r[j] - mean[j]) ** 2, 0) / n));
  return rows.map((r) => r.map((x, j) => (sd[j] > 0 ? (x - mean[j]) / sd[j] : 0)));
}

const mssdTracks = define<MssdTracksModel>({
  name: "mssd-tracks",
  kind: "tracks",
  syntax: "csv",
  ext: "csv",
  format: "mssd-tracks",
  model: () =>
    fc.record({
      tracks: fc.uniqueArray(fc.record({ id: idArb(CSV), features: fc.tuple(...MSSD_FEATURES.map(featureArb)) }), {
        minLength: 1,
        maxLength: 6,
        selector: (t) => t.id.trim(),
      }),
    }),
  table: (m) => ({ names: ["track_id", ...MSSD_FEATURES], header: true, rows: m.tracks.map((t) => [t.id, ...t.features]) }),
  expected: (m) => {
    const z = zScores(
      m.tracks.map((t) =>
        t.features.map((v, j) => (MSSD_FEATURES[j] === "mode" ? (v.trim().toLowerCase() === "major" ? 1 : 0) : Number(v))),
      ),
    );
    return sortHoldings({
      users: [],
      plays: [],
      tracks: m.tracks.map((t, i) => ({ ...bareTrack(t.id.trim()), embedding: z[i].map(Math.fround) })),
    });
  },
  roles: () => ({
    ids: ["track_id"],
    texts: [],
    required: ["track_id", "duration", "mode"],
    numbers: [...MSSD_FEATURES],
    time: null,
    fields: "exact",
  }),
});

export const IMPORT_CASES: ImportCase[] = [
  eventsCase("csv"),
  eventsCase("tsv"),
  eventsCase("jsonl"),
  tracksCase("csv"),
  tracksCase("tsv"),
  tracksCase("jsonl"),
  lastfm1k,
  sessions,
  mssd,
  movielens,
  mssdTracks,
];
