import type { Store } from "../store";
import { csvLine } from "../sql";
import { bumpCatalogVersion, clearEmbeddingProvenance, embeddingDimIn, setEmbeddingDim } from "../catalog";
import { parseColumnMap, type ColumnMap } from "./columns";
import { BadRows, emptyReport, type BadRow, type ImportOptions, type ImportReport } from "./report";
import { readRecords, type FileFormat, type SourceRecord, type UnreadableRecord } from "./source";
import { parseEmbedding, parseId, parseText, ValueError } from "./values";

export const TRACK_FIELDS = ["id", "title", "artist", "genre", "embedding"] as const;

export interface TrackRow {
  line: number;
  externalId: string;
  title: string | null;
  artist: string | null;
  genre: string | null;
  embedding: ArrayLike<number> | null;
}

export async function importTracksFile(
  store: Store,
  file: string,
  format: FileFormat,
  options: ImportOptions & { map?: string } = {},
): Promise<ImportReport> {
  const map = parseColumnMap(options.map, TRACK_FIELDS);
  const records = readRecords(file, format, (p) => options.onProgress?.({ rows: 0, ...p }));
  return loadTracks(store, trackRows(records, map), { file, ...options });
}

export async function* trackRows(
  records: AsyncIterable<(SourceRecord | UnreadableRecord)[]>,
  map: ColumnMap,
): AsyncGenerator<(TrackRow | BadRow)[]> {
  for await (const chunk of records) yield chunk.map((record) => toTrackRow(record, map));
}

function toTrackRow(record: SourceRecord | UnreadableRecord, map: ColumnMap): TrackRow | BadRow {
  {
    if ("message" in record) return record;
    const { line } = record;
    try {
      const id = record.get(map.id.column);
      if (id === undefined) {
        throw new ValueError(`missing column "${map.id.column}" for the track id; expected an id column (or --map id=COLUMN)`);
      }
      let embedding: number[] | null;
      try {
        embedding = parseEmbedding(record.get(map.embedding.column));
      } catch (err) {
        throw new ValueError(`embedding: ${(err as Error).message}`);
      }
      return {
        line,
        externalId: parseId(id, "track"),
        title: parseText(record.get(map.title.column), "title"),
        artist: parseText(record.get(map.artist.column), "artist"),
        genre: parseText(record.get(map.genre.column), "genre"),
        embedding,
      };
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      return { line, message: err.message };
    }
  }
}

/**
 * Upserts tracks in one transaction through COPY. Every embedding must have the
 * catalogue's dimension (set by the first import that carries embeddings).
 */
export async function loadTracks(
  store: Store,
  rows: AsyncIterable<readonly (TrackRow | BadRow)[]>,
  options: ImportOptions = {},
): Promise<ImportReport> {
  const started = Date.now();
  const report = emptyReport(options.file ?? "tracks");
  const bad = new BadRows(report, options);
  const batchSize = options.batchSize ?? 5_000;
  await store.transaction(async (tx) => {
    let dim = await embeddingDimIn(tx);
    const dimWasSet = dim !== null;
    const before = await countTracks(tx);
    let embeddings = false;
    await tx.query(`CREATE TEMP TABLE track_stage (
      line int, external_id text, title text, artist text, genre text, embedding real[]) ON COMMIT DROP`);
    let batch: string[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await tx.copyCsv("track_stage", ["line", "external_id", "title", "artist", "genre", "embedding"], batch.join(""));
      // Last row wins when a file repeats an id; a missing value keeps what is stored.
      const changed = await tx.execute(`
        INSERT INTO track (external_id, title, artist, genre, embedding)
        SELECT DISTINCT ON (external_id) external_id, title, artist, genre, embedding
          FROM track_stage ORDER BY external_id, line DESC
        ON CONFLICT (external_id) DO UPDATE SET
          title = COALESCE(EXCLUDED.title, track.title),
          artist = COALESCE(EXCLUDED.artist, track.artist),
          genre = COALESCE(EXCLUDED.genre, track.genre),
          embedding = COALESCE(EXCLUDED.embedding, track.embedding)`);
      report.inserted += changed;
      report.duplicates += batch.length - changed;
      await tx.query("TRUNCATE track_stage");
      batch = [];
      options.onProgress?.({ rows: report.rows });
    };
    for await (const chunk of rows)
      for (const row of chunk) {
        report.rows++;
        if ("message" in row) bad.add(row);
        else if (row.embedding && dim !== null && row.embedding.length !== dim) {
          bad.add({
            line: row.line,
            message: `embedding has ${row.embedding.length} values; expected ${dim} (the catalogue's dimension)`,
          });
        } else if (!bad.failed) {
          if (row.embedding && dim === null) dim = row.embedding.length;
          if (row.embedding) embeddings = true;
          batch.push(csvLine([row.line, row.externalId, row.title, row.artist, row.genre, row.embedding]));
          if (batch.length >= batchSize) await flush();
        }
        if (bad.mustStop) break;
      }
    bad.throwIfFailed();
    await flush();
    if (dim !== null && !dimWasSet) await setEmbeddingDim(tx, dim);
    if (embeddings) await clearEmbeddingProvenance(tx);
    const after = await countTracks(tx);
    report.tracksCreated = after - before;
    report.tracksUpdated = report.inserted - report.tracksCreated;
    if (report.inserted > 0) await bumpCatalogVersion(tx);
  });
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

async function countTracks(tx: { query<T>(sql: string): Promise<T[]> }): Promise<number> {
  return Number((await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM track"))[0].n);
}
