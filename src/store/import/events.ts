import crypto from "node:crypto";
import fs from "node:fs";
import type { SqlClient } from "../sql";
import type { Store } from "../store";
import { parseColumnMap } from "./columns";
import {
  EVENT_FIELDS,
  eventCsvLine,
  eventRows,
  eventWithTrackCsvLine,
  unknownTrack,
  withoutTrackDetails,
  type EventRow,
  type StagedChunk,
  type StagedEvent,
} from "./event-rows";
import { stagedEventsInThread } from "./parse-thread";
import { BadRows, emptyReport, type BadRow, type ImportOptions, type ImportReport } from "./report";
import { readRecords, type FileFormat, type SourceProgress } from "./source";
import { addEventStats, bumpCatalogVersion } from "../catalog";

export { EVENT_FIELDS, eventRows, type EventRow, type StagedChunk, type StagedEvent } from "./event-rows";

export interface EventImportOptions extends ImportOptions {
  /** Create tracks never seen before (without an embedding) instead of rejecting the row. */
  createTracks?: boolean;
  /** The rows carry trackTitle/trackArtist: stage them and give them to the tracks created. */
  trackDetails?: boolean;
}

export interface EventFileOptions extends EventImportOptions {
  /** --map: which columns feed which fields. */
  map?: string;
  /**
   * Parse in a worker thread, so the main thread answers the database's round trips at
   * once. By default on a server, for files of THREAD_MIN_BYTES or more (below that,
   * starting the thread costs more than it saves). Not by default on PGlite, which works
   * on the main thread: there the thread's extra CPU (a second heap, messages) cost more
   * than the overlap gained on 2 cores (bench:import, 77k against 86k events/s).
   */
  parseInThread?: boolean;
}

export const THREAD_MIN_BYTES = 16 << 20;

/** Imports a CSV/TSV/JSONL file of plays. See `loadEvents` for the guarantees. */
export async function importEventsFile(
  store: Store,
  file: string,
  format: FileFormat,
  options: EventFileOptions = {},
): Promise<ImportReport> {
  const map = parseColumnMap(options.map, EVENT_FIELDS);
  const onProgress = (p: SourceProgress) => options.onProgress?.({ rows: 0, ...p });
  if (options.parseInThread ?? (store.backend === "postgres" && fs.statSync(file).size >= THREAD_MIN_BYTES)) {
    const rows = (knownTracks: ReadonlySet<string> | null) =>
      stagedEventsInThread({ file, format, map, knownTracks: knownTracks && [...knownTracks] }, onProgress);
    return loadEvents(store, rows, { file, ...options });
  }
  return loadEvents(store, eventRows(readRecords(file, format, onProgress), map), { file, ...options });
}

/** What loadEvents reads: chunks of rows, or of plays staged already (by a parsing thread). */
export type EventChunks = AsyncIterable<readonly (EventRow | StagedEvent | BadRow)[] | StagedChunk>;

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
  /** The rows, or a function of the catalogue's tracks (null: any track) giving rows checked against them. */
  rows: EventChunks | ((knownTracks: ReadonlySet<string> | null) => EventChunks),
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
  const stagedCsv = details ? withoutTrackDetails : (csv: string) => csv;
  const stager = store.backend === "postgres" ? new SideConnectionStager(store.sql, details) : null;
  await store
    .transaction(async (tx) => {
      if (stager) await stager.claim(tx);
      const stage = stager ?? (await TransactionStager.create(tx, details));
      const merge: MergeState = { duplicatesSeen: false };
      let batch: string[] = [];
      let batchRows = 0;
      // Pipelined: while the database merges batch k, batch k+1 is parsed and (on a
      // server, through a second connection) copied into its own staging table.
      let last: Promise<void> = Promise.resolve();
      const pending: Promise<void>[] = [];
      const flush = async () => {
        if (pending.length >= 2) await pending.shift(); // bounds memory: two batches in flight
        if (batchRows === 0) return;
        const csv = batch.join("");
        const count = batchRows;
        batch = [];
        batchRows = 0;
        if (!stage.parallel) await last; // one staging table: wait until it is merged
        const staged = stage.stage(csv);
        if (!stage.parallel) await staged; // COPY data only flows while this loop yields
        const merged = Promise.all([staged, last])
          .then(([table]) => mergeBatch(tx, table, count, report, options, merge).then(() => stage.release(table, tx)))
          .then(() => options.onProgress?.({ rows: report.rows }));
        merged.catch(() => undefined); // awaited later; this only marks it handled
        last = merged;
        pending.push(merged);
      };
      /** Adds CSV lines to the batch; true when the batch is full. */
      const stageRows = (csv: string, count: number): boolean => {
        batch.push(csv);
        batchRows += count;
        return batchRows >= batchSize;
      };
      try {
        reading: for await (const chunk of typeof rows === "function" ? rows(knownTracks) : rows) {
          if (!Array.isArray(chunk)) {
            // Staged by a parsing thread, tracks checked against knownTracks already.
            const staged = chunk as StagedChunk;
            if (details) throw new Error("loadEvents: staged chunks carry no track title and artist; pass rows for trackDetails");
            report.rows += staged.rows;
            for (const row of staged.bad) {
              bad.add(row);
              if (bad.mustStop) break reading;
            }
            if (!bad.failed && staged.staged > 0 && stageRows(staged.csv, staged.staged)) await flush();
            continue;
          }
          for (const row of chunk as readonly (EventRow | StagedEvent | BadRow)[]) {
            report.rows++;
            if ("message" in row) bad.add(row);
            else if (knownTracks && !knownTracks.has(row.track)) bad.add(unknownTrack(row.line, row.track));
            else if (!bad.failed && stageRows("csv" in row ? stagedCsv(row.csv) : toCsv(row), 1)) await flush();
            if (bad.mustStop) break reading;
          }
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
 *
 * An import whose process died (kill -9, a lost machine) cannot drop its tables, so
 * each import holds an advisory lock on its prefix for as long as its transaction
 * lives, and the next import drops every staging table whose prefix nobody holds.
 */
class SideConnectionStager implements Stager {
  readonly parallel = true;
  private readonly id = crypto.randomBytes(4).toString("hex");
  private readonly prefix = `${STAGE_PREFIX}${this.id}`;
  private next = 0;
  private readonly live = new Set<string>();
  constructor(
    private readonly sql: SqlClient,
    private readonly details: boolean,
  ) {}
  /** Before anything is staged: takes this import's lock and drops the staging tables of dead imports. */
  async claim(tx: SqlClient): Promise<void> {
    await tx.query("SELECT pg_advisory_xact_lock($1, $2)", [STAGE_LOCK_CLASS, stageLockKey(this.id)]);
    const tables = await tx.query<{ tablename: string }>(
      `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename ~ $1`,
      [`^${STAGE_PREFIX}[0-9a-f]{8}_[0-9]+$`],
    );
    const orphans = new Map<string, string[]>();
    for (const { tablename } of tables) {
      const id = tablename.slice(STAGE_PREFIX.length, STAGE_PREFIX.length + 8);
      if (id !== this.id) orphans.set(id, [...(orphans.get(id) ?? []), tablename]);
    }
    for (const [id, names] of orphans) {
      // Held until this transaction ends: the owner is gone, and no one else sweeps these meanwhile.
      const [{ free }] = await tx.query<{ free: boolean }>("SELECT pg_try_advisory_xact_lock($1, $2) AS free", [
        STAGE_LOCK_CLASS,
        stageLockKey(id),
      ]);
      // Dropped through the side connection, so the sweep stands even if this import rolls back.
      if (free) for (const name of names) await this.sql.query(`DROP TABLE IF EXISTS ${name}`);
    }
  }
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

const STAGE_PREFIX = "rubato_import_stage_";
/** The first key of the advisory locks on staging prefixes ("RbSt"); the second is the prefix's 32-bit id. */
export const STAGE_LOCK_CLASS = 0x52625374;
const stageLockKey = (id: string): number => parseInt(id, 16) | 0;

/** Moves a staged batch into listening_event (creating users, and tracks if asked). */
async function mergeBatch(
  tx: SqlClient,
  stage: string,
  count: number,
  report: ImportReport,
  options: EventImportOptions,
  merge: MergeState,
) {
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
  const inserted = await insertEvents(tx, stage, merge);
  report.inserted += inserted;
  report.duplicates += count - inserted;
  if (inserted > 0) await addEventStats(tx, inserted, stage);
}

/** What the merges of one import have learnt so far. */
interface MergeState {
  /** A batch held a play already stored (or twice): later batches go straight to ON CONFLICT. */
  duplicatesSeen: boolean;
}

/**
 * Inserts a staged batch's plays and returns how many were new. A plain INSERT costs about
 * two thirds of one with ON CONFLICT DO NOTHING (measured on PostgreSQL 15), and a first
 * import has no duplicates; so the plain one is tried first, in a savepoint, and on a
 * unique violation the batch is inserted again skipping duplicates, as are all batches after.
 */
async function insertEvents(tx: SqlClient, stage: string, merge: MergeState): Promise<number> {
  const insert = `
    INSERT INTO listening_event (user_id, track_id, played_at, skipped, liked, added_to_playlist, restarted, ms_played, context)
    SELECT u.id, t.id, s.played_at, s.skipped, s.liked, s.added_to_playlist, s.restarted, s.ms_played, s.context
      FROM ${stage} s
      JOIN app_user u ON u.external_id = s.user_ext
      JOIN track t ON t.external_id = s.track_ext
     ORDER BY u.id, s.played_at`;
  const skippingDuplicates = `${insert}
    ON CONFLICT ON CONSTRAINT listening_event_pkey DO NOTHING`;
  if (merge.duplicatesSeen) return tx.execute(skippingDuplicates);
  await tx.query("SAVEPOINT rubato_import_batch");
  try {
    const inserted = await tx.execute(insert);
    await tx.query("RELEASE SAVEPOINT rubato_import_batch");
    return inserted;
  } catch (err) {
    if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
    await tx.query("ROLLBACK TO SAVEPOINT rubato_import_batch");
    merge.duplicatesSeen = true;
    return tx.execute(skippingDuplicates);
  }
}

const UNIQUE_VIOLATION = "23505";
