import type { Command } from "commander";
import { importEventsFile } from "../../store/import/events";
import { importTracksFile } from "../../store/import/tracks";
import { detectFormat } from "../../store/import/source";
import type { ImportReport } from "../../store/import/report";
import { ensureVectorIndex } from "../../store/nearest";
import { progressBar } from "../progress";
import { withStore } from "../store";

interface ImportFlags {
  format?: string;
  map?: string;
  skipBadRows?: boolean;
  createTracks?: boolean;
}

export function registerImport(program: Command): void {
  const imp = program.command("import").description("bulk-load tracks or listening events from CSV, TSV or JSON lines");
  const common = (cmd: Command) =>
    cmd
      .option("--format <format>", "csv, tsv or jsonl (default: from the file extension)")
      .option("--map <pairs>", "FIELD=COLUMN pairs, comma-separated; a boolean may be COLUMN>=N (e.g. liked=rating>=4)")
      .option("--skip-bad-rows", "import the good rows and report the bad ones (default: any bad row rolls back the whole file)");

  common(imp.command("tracks <file>"))
    .description("import catalogue tracks: fields id (required), title, artist, genre, embedding (JSON array or space-separated numbers)")
    .addHelpText("after", "\nExample:\n  rubato import tracks tracks.csv --map id=track_id,embedding=vector")
    .action((file: string, flags: ImportFlags) =>
      withStore(async (store) => {
        const bar = progressBar("tracks", "bytes");
        const report = await importTracksFile(store, file, detectFormat(file, flags.format), {
          map: flags.map,
          skipBadRows: flags.skipBadRows,
          onProgress: (p) => p.bytesRead !== undefined && bar.update(p.bytesRead, p.totalBytes),
        }).finally(() => bar.stop());
        await ensureVectorIndex(store);
        printReport(report, "tracks");
      }),
    );

  common(imp.command("events <file>"))
    .description("import plays: fields user, track, played_at (required), skipped, liked, added_to_playlist, restarted, ms_played, context")
    .option("--create-tracks", "create tracks never seen before (without an embedding) instead of rejecting the row")
    .addHelpText(
      "after",
      "\nplayed_at: ISO 8601, or Unix seconds (numbers below 1e11) or milliseconds.\n" +
        "Example (MovieLens ratings, a rating of 4 or more as a like):\n" +
        "  rubato import events ratings.csv --create-tracks --map user=userId,track=movieId,played_at=timestamp,liked=rating>=4",
    )
    .action((file: string, flags: ImportFlags) =>
      withStore(async (store) => {
        const bar = progressBar("events", "bytes");
        const report = await importEventsFile(store, file, detectFormat(file, flags.format), {
          map: flags.map,
          skipBadRows: flags.skipBadRows,
          createTracks: flags.createTracks,
          onProgress: (p) => p.bytesRead !== undefined && bar.update(p.bytesRead, p.totalBytes),
        }).finally(() => bar.stop());
        printReport(report, "events");
      }),
    );
}

export function printReport(r: ImportReport, what: "tracks" | "events"): void {
  const rate = r.seconds > 0 ? ` (${Math.round(r.rows / r.seconds).toLocaleString("en")} rows/s)` : "";
  const lines =
    what === "tracks"
      ? [`${r.file}: ${r.rows} rows in ${r.seconds.toFixed(1)} s${rate}`, `  tracks created ${r.tracksCreated}, updated ${r.tracksUpdated}`]
      : [
          `${r.file}: ${r.rows} rows in ${r.seconds.toFixed(1)} s${rate}`,
          `  events inserted ${r.inserted}, already present ${r.duplicates}, users created ${r.usersCreated}` +
            (r.tracksCreated ? `, tracks created ${r.tracksCreated}` : ""),
        ];
  if (r.badRows) lines.push(`  skipped ${r.badRows} bad rows:`, ...r.errors.map((e) => `    ${e}`));
  console.log(lines.join("\n"));
}
