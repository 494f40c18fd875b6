import type { SourceProgress } from "./source";

/** A row that could not be imported, with where it came from. */
export interface BadRow {
  line: number;
  message: string;
}

export interface ImportOptions {
  /** Name used in messages (FILE:LINE: ...). */
  file?: string;
  /** Import the good rows and count the bad ones instead of rolling back. */
  skipBadRows?: boolean;
  /** Stop reading after this many bad rows when not skipping (default 20). */
  maxErrors?: number;
  /** Rows per COPY batch (default 20,000). */
  batchSize?: number;
  onProgress?: (p: ImportProgress) => void;
}

export interface ImportProgress extends Partial<SourceProgress> {
  rows: number;
}

export interface ImportReport {
  file: string;
  rows: number;
  inserted: number;
  /** Rows already in the store (re-import) or repeated in the file. */
  duplicates: number;
  badRows: number;
  /** The first bad rows, formatted FILE:LINE: message. */
  errors: string[];
  usersCreated: number;
  tracksCreated: number;
  tracksUpdated: number;
  seconds: number;
}

/** The import found bad rows and rolled back: the store is as it was. */
export class ImportFailed extends Error {
  constructor(
    readonly errors: string[],
    readonly badRows: number,
    readonly stoppedEarly: boolean,
  ) {
    super(
      `import rolled back, nothing was written: ${badRows} bad row${badRows === 1 ? "" : "s"}` +
        `${stoppedEarly ? " (stopped reading after these)" : ""}\n` +
        errors.join("\n") +
        "\nfix the rows, or pass --skip-bad-rows to import the rest",
    );
  }
}

export function formatBadRow(file: string, row: BadRow): string {
  return `${file}:${row.line}: ${row.message}`;
}

export function emptyReport(file: string): ImportReport {
  return {
    file,
    rows: 0,
    inserted: 0,
    duplicates: 0,
    badRows: 0,
    errors: [],
    usersCreated: 0,
    tracksCreated: 0,
    tracksUpdated: 0,
    seconds: 0,
  };
}

/** Collects bad rows; tells the loader when to stop reading. */
export class BadRows {
  readonly report: ImportReport;
  private readonly limit: number;
  constructor(
    report: ImportReport,
    private readonly options: ImportOptions,
  ) {
    this.report = report;
    this.limit = options.maxErrors ?? 20;
  }
  add(row: BadRow): void {
    this.report.badRows++;
    if (this.report.errors.length < this.limit) this.report.errors.push(formatBadRow(this.report.file, row));
  }
  /** When not skipping, reading on only serves to list more errors. */
  get failed(): boolean {
    return !this.options.skipBadRows && this.report.badRows > 0;
  }
  get mustStop(): boolean {
    return this.failed && this.report.badRows >= this.limit;
  }
  throwIfFailed(): void {
    if (this.failed) throw new ImportFailed(this.report.errors, this.report.badRows, this.mustStop);
  }
}
