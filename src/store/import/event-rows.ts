import { csvField } from "../sql";
import { compare, type ColumnMap } from "./columns";
import type { BadRow } from "./report";
import type { SourceRecord, UnreadableRecord } from "./source";
import { parseBoolean, parseId, parseNumber, parseOptionalInt, parseText, show, timestampText, ValueError } from "./values";
import type { NewPlay } from "../plays";

export const EVENT_FIELDS = [
  "user",
  "track",
  "played_at",
  "skipped",
  "liked",
  "added_to_playlist",
  "restarted",
  "ms_played",
  "context",
] as const;
type EventField = (typeof EVENT_FIELDS)[number];
const REQUIRED: readonly EventField[] = ["user", "track", "played_at"];

/** One play, as imported (external ids). */
export interface EventRow extends NewPlay {
  line: number;
  msPlayed: number | null;
  context: string | null;
  /** The track's title and artist, for formats that carry them (used when the track is created). */
  trackTitle?: string | null;
  trackArtist?: string | null;
}

/**
 * One play already written as its line of the staging table's CSV (see `stagedLine`):
 * what the file import produces, so no EventRow, Date or field-by-field encoding per row.
 */
export interface StagedEvent {
  line: number;
  /** The track's external id, checked against the catalogue by the loader. */
  track: string;
  csv: string;
}

/** Many records' plays, staged at once (by the parsing thread): what the loader needs of them. */
export interface StagedChunk {
  /** How many records the chunk covers, good and bad. */
  rows: number;
  /** How many plays `csv` holds. */
  staged: number;
  /** Their staging-table lines, joined. */
  csv: string;
  /** The chunk's bad rows (unknown tracks included), in file order. */
  bad: BadRow[];
}

/** The bad row of a play whose track is not in the catalogue. */
export function unknownTrack(line: number, track: string): BadRow {
  return {
    line,
    message: `unknown track ${show(track)}; expected a track already imported (rubato import tracks) or --create-tracks`,
  };
}

const flag = (b: boolean) => (b ? "t" : "f");

/** The staging table's CSV line of a play (played_at as ISO text, ms_played null as empty). */
function stagedLine(
  user: string,
  track: string,
  playedAt: string,
  skipped: boolean,
  liked: boolean,
  addedToPlaylist: boolean,
  restarted: boolean,
  msPlayed: number | null,
  context: string | null,
): string {
  return (
    `${csvField(user)},${csvField(track)},${playedAt},${flag(skipped)},${flag(liked)},` +
    `${flag(addedToPlaylist)},${flag(restarted)},${msPlayed ?? ""},${csvField(context)}\n`
  );
}

/** One staged row as CSV. */
export function eventCsvLine(r: EventRow): string {
  const { user, track, playedAt, skipped, liked, addedToPlaylist, restarted, msPlayed, context } = r;
  return stagedLine(user, track, playedAt.toISOString(), skipped, liked, addedToPlaylist, restarted, msPlayed, context);
}

/** The same, followed by the track's title and artist. */
export function eventWithTrackCsvLine(r: EventRow): string {
  return `${eventCsvLine(r).slice(0, -1)},${csvField(r.trackTitle)},${csvField(r.trackArtist)}\n`;
}

/** A staged play's line with the (absent) title and artist columns. */
export const withoutTrackDetails = (csv: string) => `${csv.slice(0, -1)},,\n`;

/** Turns raw records into staged plays, or bad rows saying what is wrong and what was expected. */
export async function* eventRows(
  records: AsyncIterable<(SourceRecord | UnreadableRecord)[]>,
  map: ColumnMap,
): AsyncGenerator<(StagedEvent | BadRow)[]> {
  const toRow = compileEventRow(map);
  for await (const chunk of records) yield chunk.map(toRow);
}

/** Stages whole chunks of records; `knownTracks` (null: any track) as the loader checks them. */
export function stageChunk(
  map: ColumnMap,
  knownTracks: ReadonlySet<string> | null,
): (records: readonly (SourceRecord | UnreadableRecord)[]) => StagedChunk {
  const toRow = compileEventRow(map);
  return (records) => {
    const lines: string[] = [];
    const bad: BadRow[] = [];
    for (const record of records) {
      const row = toRow(record);
      if ("message" in row) bad.push(row);
      else if (knownTracks && !knownTracks.has(row.track)) bad.push(unknownTrack(row.line, row.track));
      else lines.push(row.csv);
    }
    return { rows: records.length, staged: lines.length, csv: lines.join(""), bad };
  };
}

type Read = (record: SourceRecord) => unknown;

/**
 * The column map compiled once into a function from a record to its staged play: the
 * hot path of an import, so each field's reader and parser is built here rather than
 * per row. The checks (and their order, hence which error a row reports) are those of
 * the parsers in values.ts.
 */
export function compileEventRow(map: ColumnMap): (record: SourceRecord | UnreadableRecord) => StagedEvent | BadRow {
  const user = reader(map, "user");
  const track = reader(map, "track");
  const playedAt = reader(map, "played_at");
  const skipped = named("skipped", parseBoolean, reader(map, "skipped"));
  const liked = named("liked", parseBoolean, reader(map, "liked"));
  const addedToPlaylist = named("added_to_playlist", parseBoolean, reader(map, "added_to_playlist"));
  const restarted = named("restarted", parseBoolean, reader(map, "restarted"));
  const msPlayed = named("ms_played", parseOptionalInt, reader(map, "ms_played"));
  const context = reader(map, "context");
  return (record) => {
    if ("message" in record) return record;
    const { line } = record;
    try {
      const where = context(record);
      const u = parseId(user(record), "user");
      const t = parseId(track(record), "track");
      const csv = stagedLine(
        u,
        t,
        timestampText(playedAt(record)),
        skipped(record),
        liked(record),
        addedToPlaylist(record),
        restarted(record),
        msPlayed(record),
        parseText(where, "context"),
      );
      return { line, track: t, csv };
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      return { line, message: err.message };
    }
  };
}

/** Reads a field's raw value (or, for a comparison, its outcome); a missing required column is an error. */
function reader(map: ColumnMap, name: EventField): Read {
  const rule = map[name];
  const { column } = rule;
  const missing = REQUIRED.includes(name)
    ? () => {
        throw new ValueError(
          `missing column "${column}" for ${name}; expected columns ${REQUIRED.map((f) => `"${map[f].column}"`).join(", ")} (map others with --map ${name}=COLUMN)`,
        );
      }
    : () => undefined;
  if (rule.kind === "compare") {
    const { op, value } = rule;
    return (record) => {
      const raw = record.get(column);
      return raw === undefined ? missing() : compare(parseNumber(raw), op, value);
    };
  }
  return (record) => {
    const raw = record.get(column);
    return raw === undefined ? missing() : raw;
  };
}

/** A field's parser, its errors prefixed with the field's name. */
function named<T>(name: string, parse: (raw: unknown) => T, read: Read): (record: SourceRecord) => T {
  return (record) => {
    try {
      return parse(read(record));
    } catch (err) {
      if (err instanceof ValueError) throw new ValueError(`${name}: ${err.message}`);
      throw err;
    }
  };
}
