import type { Command } from "commander";
import { EVENT_FORMATS, importEvents, importTracks, TRACK_FORMATS } from "../../store/import/formats";
import type { ImportReport } from "../../store/import/report";
import { progressBar } from "../progress";
import { withStore } from "../store";
import { pauseBeforeCommit } from "../../test-hooks";

interface ImportFlags {
  format?: string;
  map?: string;
  skipBadRows?: boolean;
  createTracks?: boolean;
}

export function registerImport(program: Command): void {
  const imp = program
    .command("import")
    .description("bulk-load tracks or listening events from CSV, TSV, JSON lines or a public data set's format");
  const common = (cmd: Command, named: object) =>
    cmd
      .option("--format <format>", `csv, tsv, jsonl or ${Object.keys(named).join(", ")} (default: csv/tsv/jsonl from the file extension)`)
      .option("--map <pairs>", "FIELD=COLUMN pairs, comma-separated; a boolean may be COLUMN>=N (e.g. liked=rating>=4)")
      .option("--skip-bad-rows", "import the good rows and report the bad ones (default: any bad row rolls back the whole file)");

  common(imp.command("tracks <file>"), TRACK_FORMATS)
    .description("import catalogue tracks: fields id (required), title, artist, genre, embedding (JSON array or space-separated numbers)")
    .addHelpText(
      "after",
      `\nExample:\n  rubato import tracks tracks.csv --map id=track_id,embedding=vector\n\nFormats that know their columns:${formatHelp(TRACK_FORMATS)}`,
    )
    .action((file: string, flags: ImportFlags) =>
      withStore(async (store) => {
        const bar = progressBar("tracks", "bytes");
        const report = await importTracks(pauseBeforeCommit(store, "import"), file, {
          format: flags.format,
          map: flags.map,
          skipBadRows: flags.skipBadRows,
          onProgress: (p) => p.bytesRead !== undefined && bar.update(p.bytesRead, p.totalBytes),
        }).finally(() => bar.stop());
        printReport(report, "tracks");
      }),
    );

  common(imp.command("events <file>"), EVENT_FORMATS)
    .description("import plays: fields user, track, played_at (required), skipped, liked, added_to_playlist, restarted, ms_played, context")
    .option(
      "--create-tracks",
      "create tracks never seen before (without an embedding) instead of rejecting the row (always on for the named formats)",
    )
    .addHelpText(
      "after",
      "\nplayed_at: ISO 8601, or Unix seconds (numbers below 1e11) or milliseconds.\n" +
        "Example (a CSV of MovieLens ratings mapped by hand, a rating of 4 or more as a like):\n" +
        "  rubato import events ratings.csv --create-tracks --map user=userId,track=movieId,played_at=timestamp,liked=rating>=4\n\n" +
        "Formats that know their columns (no --map needed; tracks are created on first sight, as with --create-tracks):" +
        formatHelp(EVENT_FORMATS),
    )
    .action((file: string, flags: ImportFlags) =>
      withStore(async (store) => {
        const bar = progressBar("events", "bytes");
        const report = await importEvents(pauseBeforeCommit(store, "import"), file, {
          format: flags.format,
          map: flags.map,
          skipBadRows: flags.skipBadRows,
          createTracks: flags.createTracks,
          onProgress: (p) => p.bytesRead !== undefined && bar.update(p.bytesRead, p.totalBytes),
        }).finally(() => bar.stop());
        printReport(report, "events");
      }),
    );
}

function formatHelp(formats: Record<string, { about: string; example: string }>): string {
  return Object.entries(formats)
    .map(([name, f]) => `\n  ${name}: ${f.about}\n    ${f.example}`)
    .join("");
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
