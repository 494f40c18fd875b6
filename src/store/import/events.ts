import crypto from "node:crypto";
import type { SqlClient } from "../sql";
import type { Store } from "../store";
import { csvField } from "../sql";
import { compare, parseColumnMap, type ColumnMap } from "./columns";
import { BadRows, emptyReport, type BadRow, type ImportOptions, type ImportReport } from "./report";
import { readRecords, type FileFormat, type SourceRecord, type UnreadableRecord } from "./source";
import { parseBoolean, parseId, parseNumber, parseOptionalInt, parseTimestamp, show, ValueError, withName } from "./values";
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
  /** The track's title and artist, for formats that carry them (used when the track is created). */
  trackTitle?: string | null;
  trackArtist?: string | null;
}

export interface EventImportOptions extends ImportOptions {
  /** Create tracks never seen before (without an embedding) instead of rejecting the row. */
  createTracks?: boolean;
  /** The rows carry trackTitle/trackArtist: stage them and give them to the tracks created. */
  trackDetails?: boolean;
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

const STAGE_COLUMNS = ["user_ext", "track_ext", "played_at", "skipped", "liked", "added_to_playlist", "restarted", "ms_played", "context"];
const DETAIL_COLUMNS = ["track_title", "track_artist"];

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

  const details = !!options.trackDetails;
  const toCsv = details ? eventWithTrackCsvLine : eventCsvLine;
  const stager = store.backend === "postgres" ? new SideConnectionStager(store.sql, details) : null;
  await store
    .transaction(async (tx) => {
      const stage = stager ?? (await TransactionStager.create(tx, details));
      let batch: string[] = [];
      // Pipelined: while the database merges batch k, batch k+1 is parsed and (on a
      // server, through a second connection) copied into its own staging table.
      let last: Promise<void> = Promise.resolve();
      const pending: Promise<void>[] = [];
      const flush = async () => {
        if (pending.length >= 2) await pending.shift(); // bounds memory: two batches in flight
        if (batch.length === 0) return;
        const csv = batch.join("");
        const count = batch.length;
        batch = [];
        if (!stage.parallel) await last; // one staging table: wait until it is merged
        const staged = stage.stage(csv);
        if (!stage.parallel) await staged; // COPY data only flows while this loop yields
        const merged = Promise.all([staged, last])
          .then(([table]) => mergeBatch(tx, table, count, report, options).then(() => stage.release(table, tx)))
          .then(() => options.onProgress?.({ rows: report.rows }));
        merged.catch(() => undefined); // awaited later; this only marks it handled
        last = merged;
        pending.push(merged);
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
              batch.push(toCsv(row));
              if (batch.length >= batchSize) await flush();
            }
            if (bad.mustStop) break;
          }
        bad.throwIfFailed();
        await flush();
        for (const p of pending.splice(0)) await p;
      } catch (err) {
        await Promise.allSettled(pending);
        throw err;
      }
      if (report.tracksCreated > 0) await bumpCatalogVersion(tx);
    })
    .finally(() => stager?.close());
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

const flag = (b: boolean) => (b ? "t" : "f");

/** One staged row as CSV; the hot path of an import, so written out rather than generic. */
function eventCsvLine(r: EventRow): string {
  return (
    `${csvField(r.user)},${csvField(r.track)},${r.playedAt.toISOString()},${flag(r.skipped)},${flag(r.liked)},` +
    `${flag(r.addedToPlaylist)},${flag(r.restarted)},${r.msPlayed ?? ""},${csvField(r.context)}\n`
  );
}

/** The same, followed by the track's title and artist. */
function eventWithTrackCsvLine(r: EventRow): string {
  return `${eventCsvLine(r).slice(0, -1)},${csvField(r.trackTitle)},${csvField(r.trackArtist)}\n`;
}

/** The staging table's columns; with details, also the track's title and artist. */
function stageTable(details: boolean): string {
  return `(user_ext text, track_ext text, played_at timestamptz, skipped bool, liked bool,
  added_to_playlist bool, restarted bool, ms_played int, context text${details ? ", track_title text, track_artist text" : ""})`;
}

const stageColumns = (details: boolean) => (details ? [...STAGE_COLUMNS, ...DETAIL_COLUMNS] : STAGE_COLUMNS);

/** Where batches wait before they are merged into listening_event. */
interface Stager {
  /** Whether staging can overlap with merges (a separate connection). */
  readonly parallel: boolean;
  /** Loads a batch (CSV rows) and returns the table holding it. */
  stage(csv: string): Promise<string>;
  /** Called inside the import's transaction once the batch is merged. */
  release(table: string, tx: SqlClient): Promise<void>;
}

/** One temporary table inside the import's transaction (PGlite has one connection). */
class TransactionStager implements Stager {
  readonly parallel = false;
  private constructor(
    private readonly tx: SqlClient,
    private readonly details: boolean,
  ) {}
  static async create(tx: SqlClient, details: boolean): Promise<TransactionStager> {
    await tx.query(`CREATE TEMP TABLE event_stage ${stageTable(details)} ON COMMIT DROP`);
    return new TransactionStager(tx, details);
  }
  async stage(csv: string): Promise<string> {
    await this.tx.copyCsv("event_stage", stageColumns(this.details), csv);
    return "event_stage";
  }
  async release(): Promise<void> {
    await this.tx.query("TRUNCATE event_stage");
  }
}

/**
 * On a server: each batch is copied into its own unlogged table through a second
 * connection, so COPY runs while the transaction merges the previous batch. The
 * staging tables are scratch space, not data: they are dropped after their merge,
 * and all of them when the import ends, whether it commits or rolls back.
 */
class SideConnectionStager implements Stager {
  readonly parallel = true;
  private readonly prefix = `rubato_import_stage_${crypto.randomBytes(4).toString("hex")}`;
  private next = 0;
  private readonly live = new Set<string>();
  constructor(
    private readonly sql: SqlClient,
    private readonly details: boolean,
  ) {}
  async stage(csv: string): Promise<string> {
    const table = `${this.prefix}_${++this.next}`;
    this.live.add(table);
    await this.sql.query(`CREATE UNLOGGED TABLE ${table} ${stageTable(this.details)}`);
    await this.sql.copyCsv(table, stageColumns(this.details), csv);
    return table;
  }
  /** Dropped by the transaction, which holds a lock on it since the merge read it. */
  async release(table: string, tx: SqlClient): Promise<void> {
    await tx.query(`DROP TABLE IF EXISTS ${table}`);
  }
  /** After the transaction: drops what a rollback left (or what was never merged). */
  async close(): Promise<void> {
    for (const table of this.live) await this.sql.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    this.live.clear();
  }
}

/** Moves a staged batch into listening_event (creating users, and tracks if asked). */
async function mergeBatch(tx: SqlClient, stage: string, count: number, report: ImportReport, options: EventImportOptions) {
  report.usersCreated += await tx.execute(`
    INSERT INTO app_user (external_id)
    SELECT DISTINCT s.user_ext FROM ${stage} s
     WHERE NOT EXISTS (SELECT 1 FROM app_user u WHERE u.external_id = s.user_ext)
    ON CONFLICT (external_id) DO NOTHING`);
  if (options.createTracks && options.trackDetails) {
    // A new track takes the title and artist staged with (any) one of its plays.
    report.tracksCreated += await tx.execute(`
      INSERT INTO track (external_id, title, artist)
      SELECT DISTINCT ON (s.track_ext) s.track_ext, s.track_title, s.track_artist FROM ${stage} s
       WHERE NOT EXISTS (SELECT 1 FROM track t WHERE t.external_id = s.track_ext)
       ORDER BY s.track_ext
      ON CONFLICT (external_id) DO NOTHING`);
  } else if (options.createTracks) {
    report.tracksCreated += await tx.execute(`
      INSERT INTO track (external_id)
      SELECT DISTINCT s.track_ext FROM ${stage} s
       WHERE NOT EXISTS (SELECT 1 FROM track t WHERE t.external_id = s.track_ext)
      ON CONFLICT (external_id) DO NOTHING`);
  }
  const inserted = await tx.execute(`
    INSERT INTO listening_event (user_id, track_id, played_at, skipped, liked, added_to_playlist, restarted, ms_played, context)
    SELECT u.id, t.id, s.played_at, s.skipped, s.liked, s.added_to_playlist, s.restarted, s.ms_played, s.context
      FROM ${stage} s
      JOIN app_user u ON u.external_id = s.user_ext
      JOIN track t ON t.external_id = s.track_ext
     ORDER BY u.id, s.played_at
    ON CONFLICT ON CONSTRAINT listening_event_pkey DO NOTHING`);
  report.inserted += inserted;
  report.duplicates += count - inserted;
  if (inserted > 0) await addEventStats(tx, inserted, stage);
}
