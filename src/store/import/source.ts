import { isUtf8 } from "node:buffer";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { Transform, type TransformCallback } from "node:stream";
import Papa from "papaparse";

export type FileFormat = "csv" | "tsv" | "jsonl";

/** One input record: its 1-based line in the file and its raw values by column name. */
export interface SourceRecord {
  line: number;
  /** The raw value of a column, or undefined when the record has no such column. */
  get(column: string): unknown;
}

/** A CSV/TSV row: the fields plus the header's column positions, shared by all rows. */
class DelimitedRecord implements SourceRecord {
  constructor(
    readonly line: number,
    private readonly fields: string[],
    private readonly columns: ReadonlyMap<string, number>,
  ) {}
  get(column: string): unknown {
    const i = this.columns.get(column);
    return i === undefined ? undefined : this.fields[i];
  }
}

class JsonRecord implements SourceRecord {
  constructor(
    readonly line: number,
    private readonly values: Record<string, unknown>,
  ) {}
  get(column: string): unknown {
    return Object.prototype.hasOwnProperty.call(this.values, column) ? this.values[column] : undefined;
  }
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

/**
 * The file format: `explicit` (from --format) or the file's extension. `others` are the
 * named formats the caller also accepts, listed in the error message.
 */
export function detectFormat(file: string, explicit?: string, others: readonly string[] = []): FileFormat {
  const format = (explicit ?? path.extname(file).slice(1)).toLowerCase();
  if (format === "csv" || format === "tsv" || format === "jsonl") return format;
  if (format === "ndjson" || format === "json") return "jsonl";
  if (format === "txt" || format === "tab") return "tsv";
  const expected = ["csv", "tsv", "jsonl", ...others].join("|");
  if (explicit !== undefined) throw new Error(`--format ${explicit}: unknown format; expected ${expected}`);
  throw new Error(`${file}: cannot tell the format from the extension "${path.extname(file)}"; pass --format ${expected}`);
}

/** Streams a CSV, TSV (with header row) or JSON-lines file in chunks of records, in constant memory. */
export async function* readRecords(
  file: string,
  format: FileFormat,
  onProgress?: (p: SourceProgress) => void,
): AsyncGenerator<(SourceRecord | UnreadableRecord)[]> {
  if (format === "jsonl") {
    for await (const lines of readLines(file, onProgress)) yield lines.map((l) => ("message" in l ? l : parseJsonLine(l.text, l.line)));
    return;
  }
  yield* readDelimited(openInput(file, onProgress), format === "tsv" ? "\t" : ",");
}

/** The file as text (see Utf8Text), with progress counted in the file's bytes. */
function openInput(file: string, onProgress?: (p: SourceProgress) => void): Utf8Text {
  const totalBytes = fs.statSync(file).size;
  const input = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  input.on("data", () => onProgress?.({ bytesRead: input.bytesRead, totalBytes }));
  const text = new Utf8Text();
  input.on("error", (err) => text.destroy(err));
  return input.pipe(text);
}

export const NOT_UTF8 = "not valid UTF-8; expected UTF-8 text (convert the file first, e.g. iconv -f latin1 -t utf-8)";

/**
 * A file's bytes as UTF-8 text: a character split between two chunks stays whole (papaparse
 * decoded each chunk on its own, so one straddling the 1 MiB boundary became two U+FFFD), a
 * leading byte order mark is dropped, and the lines holding bytes that are not UTF-8 are
 * noted before their text is passed on, so the readers report them instead of storing
 * U+FFFD in their place.
 */
class Utf8Text extends Transform {
  /** 1-based lines with invalid bytes, ascending. */
  private readonly invalid: number[] = [];
  private cursor = 0;
  /** The line of the next byte. */
  private line = 1;
  /** The bytes of a character the last chunk ended inside (or of a possible byte order mark). */
  private pending: Buffer | null = null;
  private started = false;

  constructor() {
    super();
    this.setEncoding("utf8");
  }

  /** Whether a line from `from` to `to` holds invalid bytes; asked in ascending order. */
  invalidWithin(from: number, to: number): boolean {
    while (this.cursor < this.invalid.length && this.invalid[this.cursor] < from) this.cursor++;
    return this.cursor < this.invalid.length && this.invalid[this.cursor] <= to;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let bytes = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    if (!this.started) {
      if (bytes.length < 3 && BOM.subarray(0, bytes.length).equals(bytes)) {
        this.pending = Buffer.from(bytes);
        return done();
      }
      this.started = true;
      if (bytes.subarray(0, 3).equals(BOM)) bytes = bytes.subarray(3);
    }
    const end = completeEnd(bytes);
    if (end < bytes.length) this.pending = Buffer.from(bytes.subarray(end));
    done(null, this.text(bytes.subarray(0, end)));
  }

  override _flush(done: TransformCallback): void {
    const rest = this.pending && !(!this.started && BOM.equals(this.pending)) ? this.pending : null;
    done(null, rest ? this.text(rest) : undefined);
  }

  private text(bytes: Buffer): string {
    if (isUtf8(bytes)) {
      for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) this.line++;
    } else {
      // Rare: find the lines at fault (no UTF-8 sequence holds a newline byte).
      for (let from = 0; ;) {
        const nl = bytes.indexOf(10, from);
        if (!isUtf8(bytes.subarray(from, nl < 0 ? bytes.length : nl)) && this.invalid.at(-1) !== this.line) this.invalid.push(this.line);
        if (nl < 0) break;
        this.line++;
        from = nl + 1;
      }
    }
    return bytes.toString("utf8");
  }
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Where the last complete character of `b` ends: before a lead byte whose continuation bytes are still to come. */
function completeEnd(b: Buffer): number {
  const n = b.length;
  for (let k = 1; k <= Math.min(3, n); k++) {
    const c = b[n - k];
    if (c < 0x80) return n;
    if (c >= 0xc0) return (c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2) > k ? n - k : n;
  }
  return n;
}

/** One line of a text file and its 1-based number. */
export interface TextLine {
  line: number;
  text: string;
}

/** Streams the non-blank lines of a text file in chunks, in constant memory; a line that is not UTF-8 comes as unreadable. */
export async function* readLines(file: string, onProgress?: (p: SourceProgress) => void): AsyncGenerator<(TextLine | UnreadableRecord)[]> {
  const input = openInput(file, onProgress);
  let line = 0;
  let chunk: (TextLine | UnreadableRecord)[] = [];
  for await (const text of readline.createInterface({ input, crlfDelay: Infinity })) {
    line++;
    if (input.invalidWithin(line, line)) chunk.push({ line, message: NOT_UTF8 });
    else if (!text.trim()) continue;
    else chunk.push({ line, text });
    if (chunk.length >= 5000) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length) yield chunk;
}

function parseJsonLine(text: string, line: number): SourceRecord | UnreadableRecord {
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (err) {
    return { line, message: `not valid JSON (${(err as Error).message}); expected one JSON object per line` };
  }
  if (!values || typeof values !== "object" || Array.isArray(values)) return { line, message: "expected a JSON object per line" };
  return new JsonRecord(line, values as Record<string, unknown>);
}

const CSV_HELP =
  'comma-separated fields, a field holding a comma, quote or newline in double quotes (a quote inside doubled: "say ""hi""")';

/**
 * CSV/TSV through papaparse (several times faster than the alternatives we measured),
 * paused after each chunk until the consumer has taken its rows, so memory stays flat.
 * Line numbers are counted from the rows themselves: 1 + the newlines inside quoted fields.
 */
async function* readDelimited(input: Utf8Text, delimiter: string): AsyncGenerator<(SourceRecord | UnreadableRecord)[]> {
  const queue: (SourceRecord | UnreadableRecord)[] = [];
  let header: string[] | null = null;
  let columns: Map<string, number> = new Map();
  let nextLine = 1;
  let finished = false;
  let failure: Error | null = null;
  let parser: Papa.Parser | null = null;
  let wake: (() => void) | null = null;
  const signal = () => {
    wake?.();
    wake = null;
  };
  const take = (row: string[], rowError: string | undefined) => {
    const line = nextLine;
    for (const field of row) for (let i = field.indexOf("\n"); i >= 0; i = field.indexOf("\n", i + 1)) nextLine++;
    nextLine++;
    const notUtf8 = input.invalidWithin(line, nextLine - 1);
    if (row.length === 1 && row[0] === "" && !notUtf8) return; // blank line
    if (!header) {
      header = row.map((h) => h.trim());
      columns = new Map(header.map((name, i) => [name, i]));
      if (notUtf8) queue.push({ line, message: NOT_UTF8 });
      return;
    }
    if (notUtf8) queue.push({ line, message: NOT_UTF8 });
    else if (rowError)
      queue.push({ line, message: `cannot be read: ${rowError}; expected ${delimiter === "," ? CSV_HELP : "tab-separated fields"}` });
    else if (row.length !== header.length)
      queue.push({ line, message: `has ${row.length} fields; expected ${header.length} as in the header` });
    else queue.push(new DelimitedRecord(line, row, columns));
  };
  Papa.parse<string[]>(input as unknown as File, {
    delimiter,
    header: false,
    skipEmptyLines: false,
    quoteChar: delimiter === "\t" ? "\u0000" : '"',
    chunk(results, p) {
      parser = p;
      const errors = new Map<number, string>();
      for (const e of results.errors) if (e.row !== undefined) errors.set(e.row, e.message);
      results.data.forEach((row, i) => take(row, errors.get(i)));
      p.pause();
      signal();
    },
    complete() {
      finished = true;
      signal();
    },
    error(err) {
      failure = err;
      signal();
    },
  });
  for (;;) {
    if (queue.length) {
      yield queue.splice(0);
      continue;
    }
    if (failure) throw failure;
    if (finished) return;
    const waiting = new Promise<void>((resolve) => (wake = resolve));
    (parser as Papa.Parser | null)?.resume();
    await waiting;
  }
}
