import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { parse } from "csv-parse";

export type FileFormat = "csv" | "tsv" | "jsonl";

/** One input record: its 1-based line in the file and its raw values by column name. */
export interface SourceRecord {
  line: number;
  values: Record<string, unknown>;
}

/** A record that could not be read at all (malformed CSV or JSON). */
export interface UnreadableRecord {
  line: number;
  message: string;
}

export interface SourceProgress {
  bytesRead: number;
  totalBytes: number;
}

export function detectFormat(file: string, explicit?: string): FileFormat {
  const format = (explicit ?? path.extname(file).slice(1)).toLowerCase();
  if (format === "csv" || format === "tsv" || format === "jsonl") return format;
  if (format === "ndjson" || format === "json") return "jsonl";
  if (format === "txt" || format === "tab") return "tsv";
  throw new Error(`${file}: cannot tell the format from the extension "${path.extname(file)}"; pass --format csv|tsv|jsonl`);
}

/** Streams a CSV, TSV (with header row) or JSON-lines file record by record, in constant memory. */
export async function* readRecords(
  file: string,
  format: FileFormat,
  onProgress?: (p: SourceProgress) => void,
): AsyncGenerator<SourceRecord | UnreadableRecord> {
  const totalBytes = fs.statSync(file).size;
  const input = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  input.on("data", () => onProgress?.({ bytesRead: input.bytesRead, totalBytes }));
  if (format === "jsonl") {
    let line = 0;
    for await (const text of readline.createInterface({ input, crlfDelay: Infinity })) {
      line++;
      if (!text.trim()) continue;
      let values: unknown;
      try {
        values = JSON.parse(text);
      } catch (err) {
        yield { line, message: `not valid JSON (${(err as Error).message}); expected one JSON object per line` };
        continue;
      }
      if (!values || typeof values !== "object" || Array.isArray(values)) {
        yield { line, message: "expected a JSON object per line" };
        continue;
      }
      yield { line, values: values as Record<string, unknown> };
    }
    return;
  }
  const unreadable: UnreadableRecord[] = [];
  let headerWidth = 0;
  const parser = input.pipe(
    parse({
      columns: (header: string[]) => {
        headerWidth = header.length;
        return header.map((h) => h.trim());
      },
      skip_records_with_error: true,
      on_skip: (err) => {
        const e = err as (Error & { lines?: number; record?: unknown[] }) | undefined;
        if (!e) return;
        const fields = Array.isArray(e.record) ? e.record.length : undefined;
        unreadable.push({
          line: e.lines ?? 0,
          message:
            fields !== undefined && /record length/i.test(e.message)
              ? `has ${fields} fields; expected ${headerWidth} as in the header`
              : `cannot be read: ${e.message}`,
        });
      },
      delimiter: format === "tsv" ? "\t" : ",",
      info: true,
      bom: true,
      skip_empty_lines: true,
      relax_quotes: format === "tsv",
      quote: format === "tsv" ? false : '"',
    }),
  );
  try {
    for await (const rec of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      yield* unreadable.splice(0);
      yield { line: rec.info.lines, values: rec.record };
    }
    yield* unreadable.splice(0);
  } catch (err) {
    // Errors csv-parse cannot skip past (e.g. an unclosed quote) end the file here.
    const e = err as Error & { lines?: number };
    yield* unreadable.splice(0);
    yield { line: e.lines ?? 0, message: `cannot be read: ${e.message}` };
  }
}
