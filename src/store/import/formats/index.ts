import type { Store } from "../../store";
import { parseColumnMap } from "../columns";
import { eventRows, importEventsFile, loadEvents, EVENT_FIELDS, type EventImportOptions, type EventRow, type StagedEvent } from "../events";
import type { BadRow, ImportOptions, ImportReport } from "../report";
import { detectFormat, readRecords, type SourceProgress } from "../source";
import { importTracksFile, loadTracks, type TrackRow } from "../tracks";
import { lastfm1kRows } from "./lastfm1k";
import { mssdRows } from "./mssd";
import { mssdTrackRows } from "./mssd-tracks";
import { sessionRows } from "./sessions";

/**
 * Formats of public listening data sets. Each knows its columns and turns the file's records
 * into plays for `loadEvents` (the COPY path the CSV/TSV/JSONL import uses), creating the
 * tracks it meets (with title and artist where the format has them).
 */
interface EventFormat {
  /** One line for --help. */
  about: string;
  example: string;
  /** The rows carry each track's title and artist. */
  trackDetails: boolean;
  /** Whether --map may adjust the format's columns. */
  mappable: boolean;
  rows(file: string, map: string | undefined, onProgress: (p: SourceProgress) => void): AsyncIterable<(EventRow | StagedEvent | BadRow)[]>;
}

/** MovieLens ratings.csv as plays, a rating of 4 or more as a like. */
export const MOVIELENS_MAP = "user=userId,track=movieId,played_at=timestamp,liked=rating>=4";

export const EVENT_FORMATS: Record<string, EventFormat> = {
  lastfm1k: {
    about:
      'Last.fm 1K: userid, timestamp, artid, artname, traid, traname (tab-separated, no header); a row without traid is keyed "artname — traname"',
    example: "rubato import events userid-timestamp-artid-artname-traid-traname.tsv --format lastfm1k",
    trackDetails: true,
    mappable: false,
    rows: (file, _map, onProgress) => lastfm1kRows(file, onProgress),
  },
  mssd: {
    about:
      "Spotify MSSD log_*.csv: session_id as the user, skip_2 as skipped, reason_start backbtn as restarted; " +
      "played_at = date + hour_of_day + session_position seconds",
    example: "rubato import events log_mini.csv --format mssd   (track features: rubato import tracks tf_mini.csv --format mssd-tracks)",
    trackDetails: false,
    mappable: false,
    rows: (file, _map, onProgress) => mssdRows(file, onProgress),
  },
  sessions: {
    about:
      "session logs: UserId SessionId ItemId Time (Unix seconds), whitespace-separated, header optional; the session is the context, " +
      "a header's ArtistId the track's artist",
    example: "rubato import events sessions.dat --format sessions",
    trackDetails: true,
    mappable: false,
    rows: (file, _map, onProgress) => sessionRows(file, onProgress),
  },
  movielens: {
    about: `MovieLens ratings.csv: ${MOVIELENS_MAP} (--map may change any of these)`,
    example: "rubato import events ratings.csv --format movielens",
    trackDetails: false,
    mappable: true,
    rows: (file, map, onProgress) =>
      eventRows(readRecords(file, "csv", onProgress), parseColumnMap(map ? `${MOVIELENS_MAP},${map}` : MOVIELENS_MAP, EVENT_FIELDS)),
  },
};

export const TRACK_FORMATS = {
  "mssd-tracks": {
    about: "Spotify MSSD track features tf_*.csv: the 29 features, z-scored over the file, become the embedding (mode: major 1, minor 0)",
    example: "rubato import tracks tf_mini.csv --format mssd-tracks",
    rows: (file: string, onProgress: (p: SourceProgress) => void): AsyncIterable<(TrackRow | BadRow)[]> => mssdTrackRows(file, onProgress),
  },
};

export interface FormatImportOptions extends EventImportOptions {
  /** csv, tsv, jsonl or a named format; default from the file extension. */
  format?: string;
  map?: string;
}

const has = (formats: object, name: string | undefined): name is string => name !== undefined && Object.hasOwn(formats, name);

/** Imports plays from a file in any format: the CSV/TSV/JSONL loader, or a named format's adapter. */
export async function importEvents(store: Store, file: string, options: FormatImportOptions = {}): Promise<ImportReport> {
  const { format: name, map, ...rest } = options;
  if (!has(EVENT_FORMATS, name)) return importEventsFile(store, file, detectFormat(file, name, Object.keys(EVENT_FORMATS)), options);
  const format = EVENT_FORMATS[name];
  if (map && !format.mappable) throw new Error(`--map does not apply to --format ${name}: the format knows its columns`);
  const rows = format.rows(file, map, (p) => options.onProgress?.({ rows: 0, ...p }));
  return loadEvents(store, rows, { file, ...rest, createTracks: true, trackDetails: format.trackDetails });
}

/** Imports tracks from a file in any format: the CSV/TSV/JSONL loader, or a named format's adapter. */
export async function importTracks(
  store: Store,
  file: string,
  options: ImportOptions & { format?: string; map?: string } = {},
): Promise<ImportReport> {
  const { format: name, map, ...rest } = options;
  if (!has(TRACK_FORMATS, name)) return importTracksFile(store, file, detectFormat(file, name, Object.keys(TRACK_FORMATS)), options);
  if (map) throw new Error(`--map does not apply to --format ${name}: the format knows its columns`);
  const rows = TRACK_FORMATS[name as keyof typeof TRACK_FORMATS].rows(file, (p) => options.onProgress?.({ rows: 0, ...p }));
  return loadTracks(store, rows, { file, ...rest });
}
