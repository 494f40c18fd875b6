import path from "node:path";
import { Worker } from "node:worker_threads";
import type { ColumnMap } from "./columns";
import type { StagedChunk } from "./event-rows";
import type { FileFormat, SourceProgress } from "./source";

/** swc's register hook, resolved here: a thread's eval code would resolve it from the working directory. */
const SWC_REGISTER = require.resolve("@swc-node/register");

/**
 * Parsing a file of plays in a worker thread, so that reading, validating and writing the
 * COPY text (one core) overlap with the database's statements, whose round trips the main
 * thread then answers at once instead of between parse chunks.
 */

/** What the thread is given. */
export interface ParseRequest {
  file: string;
  format: FileFormat;
  map: ColumnMap;
  /** The catalogue's tracks, or null when unknown tracks are created. */
  knownTracks: string[] | null;
}

/** What the thread sends: staged chunks, read progress, the end, or why it failed. */
export type FromParseThread =
  | { type: "chunk"; chunk: StagedChunk }
  | { type: "progress"; progress: SourceProgress }
  | { type: "done" }
  | { type: "failed"; message: string };

/** The main thread takes a chunk: the thread may parse one more. */
export type ToParseThread = { type: "taken" };

/** Chunks parsed ahead of the loader: enough to keep both busy, few enough for flat memory. */
export const CHUNKS_AHEAD = 3;

/** Streams a file's staged plays from a parsing thread; stopping early ends the thread. */
export async function* stagedEventsInThread(
  request: ParseRequest,
  onProgress?: (p: SourceProgress) => void,
): AsyncGenerator<StagedChunk> {
  const entry = path.join(__dirname, "parse-thread-entry.ts");
  // Runs the TypeScript entry through swc, as the CLI runs the sources (see jobs/thread/spawn.ts).
  const worker = new Worker(`require(${JSON.stringify(SWC_REGISTER)}); require(${JSON.stringify(entry)});`, {
    eval: true,
    workerData: request,
    stdin: false,
  });
  const inbox: FromParseThread[] = [];
  let wake: (() => void) | null = null;
  const deliver = (msg: FromParseThread) => {
    if (msg.type === "progress") onProgress?.(msg.progress);
    else inbox.push(msg);
    wake?.();
    wake = null;
  };
  worker.on("message", deliver);
  worker.on("error", (err) => deliver({ type: "failed", message: err.stack ?? err.message }));
  worker.on("exit", (code) => deliver(code === 0 ? { type: "done" } : { type: "failed", message: `parsing thread exited with code ${code}` }));
  try {
    for (;;) {
      const msg = inbox.shift();
      if (!msg) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      if (msg.type === "done") return;
      if (msg.type === "failed") throw new Error(`${request.file}: ${msg.message}`);
      if (msg.type === "chunk") {
        worker.postMessage({ type: "taken" } satisfies ToParseThread);
        yield msg.chunk;
      }
    }
  } finally {
    worker.removeAllListeners("message");
    await worker.terminate();
  }
}
