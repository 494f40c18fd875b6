import type { SqlClient } from "../sql";
import type { Store } from "../store";
import { csvLine } from "../sql";
import { compare, parseColumnMap, type ColumnMap } from "./columns";
import { BadRows, emptyReport, type BadRow, type ImportOptions, type ImportReport } from "./report";
import { readRecords, type FileFormat, type SourceRecord, type UnreadableRecord } from "./source";
import { parseBoolean, parseId, parseNumber, parseOptionalInt, parseTimestamp, show, ValueError } from "./values";
import { addEventStats, bumpCatalogVersion } from "../catalog";

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
const REQUIRED = new Set(["user", "track", "played_at"]);

/** One play, as imported (external ids). */
export interface EventRow {
  line: number;
  user: string;
  track: string;
  playedAt: Date;
  skipped: boolean;
  liked: boolean;
  addedToPlaylist: boolean;
  restarted: boolean;
  msPlayed: number | null;
  context: string | null;
}

export interface EventImportOptions extends ImportOptions {
  /** Create tracks never seen before (without an embedding) instead of rejecting the row. */
  createTracks?: boolean;
}

/** Imports a CSV/TSV/JSONL file of plays. See `loadEvents` for the guarantees. */
export async function importEventsFile(
  store: Store,
  file: string,
  format: FileFormat,
  options: EventImportOptions & { map?: string } = {},
): Promise<ImportReport> {
  const map = parseColumnMap(options.map, EVENT_FIELDS);
  const records = readRecords(file, format, (p) => options.onProgress?.({ rows: 0, ...p }));
  return loadEvents(store, eventRows(records, map), { file, ...options });
}

/** Turns raw records into typed plays, or bad rows saying what is wrong and what was expected. */
export async function* eventRows(
  records: AsyncIterable<(SourceRecord | UnreadableRecord)[]>,
  map: ColumnMap,
): AsyncGenerator<(EventRow | BadRow)[]> {
  for await (const chunk of records) yield chunk.map((record) => toEventRow(record, map));
}

function toEventRow(record: SourceRecord | UnreadableRecord, map: ColumnMap): EventRow | BadRow {
  {
    if ("message" in record) return record;
    const { line } = record;
    try {
      const field = (name: string): unknown => {
        const rule = map[name];
        const raw = record.get(rule.column);
        if (raw === undefined) {
          if (!REQUIRED.has(name)) return undefined;
          throw new ValueError(
            `missing column "${rule.column}" for ${name}; expected columns ${[...REQUIRED].map((f) => `"${map[f].column}"`).join(", ")} (map others with --map ${name}=COLUMN)`,
          );
        }
        if (rule.kind === "compare") return compare(parseNumber(raw), rule.op, rule.value);
        return raw;
      };
      const context = field("context");
      return {
        line,
        user: parseId(field("user"), "user"),
        track: parseId(field("track"), "track"),
        playedAt: parseTimestamp(field("played_at")),
        skipped: boolField(field, "skipped"),
        liked: boolField(field, "liked"),
        addedToPlaylist: boolField(field, "added_to_playlist"),
        restarted: boolField(field, "restarted"),
        msPlayed: withName("ms_played", () => parseOptionalInt(field("ms_played"))),
        context: context === undefined || context === null || context === "" ? null : String(context),
      };
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      return { line, message: err.message };
    }
  }
}

function boolField(field: (name: string) => unknown, name: string): boolean {
  return withName(name, () => parseBoolean(field(name)));
}

function withName<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ValueError) throw new ValueError(`${name}: ${err.message}`);
    throw err;
  }
}

const STAGE_COLUMNS = ["user_ext", "track_ext", "played_at", "skipped", "liked", "added_to_playlist", "restarted", "ms_played", "context"];

/**
 * Loads plays in one transaction, through COPY in batches (constant memory).
 * Users are created on first sight; an unknown track is a bad row unless createTracks.
 * Any bad row rolls everything back unless skipBadRows. A play already stored
 * (same user, time and track) is counted as a duplicate, never written twice.
 */
export async function loadEvents(
  store: Store,
  rows: AsyncIterable<readonly (EventRow | BadRow)[]>,
  options: EventImportOptions = {},
): Promise<ImportReport> {
  const started = Date.now();
  const report = emptyReport(options.file ?? "events");
  const bad = new BadRows(report, options);
  const batchSize = options.batchSize ?? 20_000;
  const knownTracks = options.createTracks
    ? null
    : new Set((await store.sql.query<{ external_id: string }>("SELECT external_id FROM track")).map((r) => r.external_id));

  await store.transaction(async (tx) => {
    await tx.query(`CREATE TEMP TABLE event_stage (
      user_ext text, track_ext text, played_at timestamptz, skipped bool, liked bool,
      added_to_playlist bool, restarted bool, ms_played int, context text) ON COMMIT DROP`);
    let batch: string[] = [];
    // One batch loads while the next is parsed: on a server the database works in
    // its own process, so parsing and loading overlap.
    let inFlight: Promise<void> | null = null;
    const flush = async () => {
      if (inFlight) await inFlight;
      inFlight = null;
      if (batch.length === 0) return;
      const csv = batch.join("");
      const count = batch.length;
      batch = [];
      inFlight = insertBatch(tx, csv, count, report, !!options.createTracks).then(() => options.onProgress?.({ rows: report.rows }));
      inFlight.catch(() => undefined); // awaited at the next flush; this only marks it handled
    };
    try {
      for await (const chunk of rows)
        for (const row of chunk) {
          report.rows++;
          if ("message" in row) bad.add(row);
          else if (knownTracks && !knownTracks.has(row.track)) {
            bad.add({
              line: row.line,
              message: `unknown track ${show(row.track)}; expected a track already imported (rubato import tracks) or --create-tracks`,
            });
          } else if (!bad.failed) {
            batch.push(
              csvLine([
                row.user,
                row.track,
                row.playedAt,
                row.skipped,
                row.liked,
                row.addedToPlaylist,
                row.restarted,
                row.msPlayed,
                row.context,
              ]),
            );
            if (batch.length >= batchSize) await flush();
          }
          if (bad.mustStop) break;
        }
      bad.throwIfFailed();
      await flush();
      await flush();
    } catch (err) {
      await (inFlight as Promise<void> | null)?.catch(() => undefined);
      throw err;
    }
    if (report.tracksCreated > 0) await bumpCatalogVersion(tx);
  });
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

async function insertBatch(tx: SqlClient, csv: string, count: number, report: ImportReport, createTracks: boolean) {
  await tx.copyCsv("event_stage", STAGE_COLUMNS, csv);
  report.usersCreated += await tx.execute(`
    INSERT INTO app_user (external_id)
    SELECT DISTINCT s.user_ext FROM event_stage s
     WHERE NOT EXISTS (SELECT 1 FROM app_user u WHERE u.external_id = s.user_ext)
    ON CONFLICT (external_id) DO NOTHING`);
  if (createTracks) {
    report.tracksCreated += await tx.execute(`
      INSERT INTO track (external_id)
      SELECT DISTINCT s.track_ext FROM event_stage s
       WHERE NOT EXISTS (SELECT 1 FROM track t WHERE t.external_id = s.track_ext)
      ON CONFLICT (external_id) DO NOTHING`);
  }
  const inserted = await tx.execute(`
    INSERT INTO listening_event (user_id, track_id, played_at, skipped, liked, added_to_playlist, restarted, ms_played, context)
    SELECT u.id, t.id, s.played_at, s.skipped, s.liked, s.added_to_playlist, s.restarted, s.ms_played, s.context
      FROM event_stage s
      JOIN app_user u ON u.external_id = s.user_ext
      JOIN track t ON t.external_id = s.track_ext
    ON CONFLICT ON CONSTRAINT listening_event_pkey DO NOTHING`);
  report.inserted += inserted;
  report.duplicates += count - inserted;
  if (inserted > 0) await addEventStats(tx, inserted, "event_stage");
  await tx.query("TRUNCATE event_stage");
}
