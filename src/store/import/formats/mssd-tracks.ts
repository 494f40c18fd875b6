import type { BadRow } from "../report";
import { readRecords, type SourceProgress, type SourceRecord, type UnreadableRecord } from "../source";
import type { TrackRow } from "../tracks";
import { parseId, parseNumber, show, ValueError, withName } from "../values";
import { orBadRow } from "./play";

/**
 * The MSSD track features (tf_*.csv, header row): track_id and 29 features, which become the
 * track's embedding in this order, each standardised to a z-score over the file
 * ((x - mean) / standard deviation; 0 for a column that never varies). `mode` is the one
 * non-numeric column: major = 1, minor = 0, then standardised like the others; any other
 * non-numeric value is a bad row. Other columns are ignored.
 */
export const MSSD_FEATURES = [
  "duration",
  "release_year",
  "us_popularity_estimate",
  "acousticness",
  "beat_strength",
  "bounciness",
  "danceability",
  "dyn_range_mean",
  "energy",
  "flatness",
  "instrumentalness",
  "key",
  "liveness",
  "loudness",
  "mechanism",
  "mode",
  "organism",
  "speechiness",
  "tempo",
  "time_signature",
  "valence",
  ...Array.from({ length: 8 }, (_, i) => `acoustic_vector_${i}`),
];

/**
 * Two passes over the file, each in constant memory: the first gathers each feature's mean
 * and deviation (over the rows that parse), the second yields the standardised tracks.
 */
export async function* mssdTrackRows(file: string, onProgress?: (p: SourceProgress) => void): AsyncGenerator<(TrackRow | BadRow)[]> {
  const stats = new RunningMoments(MSSD_FEATURES.length);
  const half = (offset: 0 | 1) => (p: SourceProgress) =>
    onProgress?.({ bytesRead: offset * p.totalBytes + p.bytesRead, totalBytes: 2 * p.totalBytes });
  for await (const chunk of readRecords(file, "csv", half(0)))
    for (const record of chunk) {
      const row = "message" in record ? record : orBadRow(record.line, () => features(record));
      if (!("message" in row)) stats.add(row);
    }
  const scale = stats.standardiser();
  for await (const chunk of readRecords(file, "csv", half(1))) yield chunk.map((record) => trackRow(record, scale));
}

function trackRow(record: SourceRecord | UnreadableRecord, scale: (x: Float64Array) => Float64Array): TrackRow | BadRow {
  if ("message" in record) return record;
  return orBadRow(record.line, () => ({
    line: record.line,
    externalId: parseId(column(record, "track_id"), "track"),
    title: null,
    artist: null,
    genre: null,
    embedding: scale(features(record)),
  }));
}

function column(record: SourceRecord, name: string): unknown {
  const raw = record.get(name);
  if (raw === undefined)
    throw new ValueError(`missing column "${name}"; expected the MSSD track features columns track_id, ${MSSD_FEATURES.join(", ")}`);
  return raw;
}

function features(record: SourceRecord): Float64Array {
  const x = new Float64Array(MSSD_FEATURES.length);
  MSSD_FEATURES.forEach((name, i) => {
    const raw = column(record, name);
    x[i] = name === "mode" ? modeValue(raw) : withName(name, () => parseNumber(raw));
  });
  return x;
}

function modeValue(raw: unknown): number {
  const text = String(raw).trim().toLowerCase();
  if (text === "major") return 1;
  if (text === "minor") return 0;
  throw new ValueError(`mode: expected "major" or "minor", got ${show(raw)}`);
}

/** Mean and variance per column, updated one row at a time (Welford). */
class RunningMoments {
  private n = 0;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;
  constructor(dim: number) {
    this.mean = new Float64Array(dim);
    this.m2 = new Float64Array(dim);
  }
  add(x: Float64Array): void {
    this.n++;
    for (let i = 0; i < x.length; i++) {
      const delta = x[i] - this.mean[i];
      this.mean[i] += delta / this.n;
      this.m2[i] += delta * (x[i] - this.mean[i]);
    }
  }
  /** x -> (x - mean) / sd, with the population standard deviation; 0 where sd is 0. */
  standardiser(): (x: Float64Array) => Float64Array {
    const mean = this.mean;
    const sd = this.m2.map((m2) => (this.n > 0 ? Math.sqrt(m2 / this.n) : 0));
    return (x) => x.map((v, i) => (sd[i] > 0 ? (v - mean[i]) / sd[i] : 0));
  }
}
