/**
 * The parsing thread (see parse-thread.ts): reads the file, turns its records into staged
 * plays and bad rows, and sends them in chunks, at most CHUNKS_AHEAD ahead of the loader.
 */
import { parentPort, workerData } from "node:worker_threads";
import { stageChunk } from "./event-rows";
import { CHUNKS_AHEAD, type FromParseThread, type ParseRequest, type ToParseThread } from "./parse-thread";
import { readRecords } from "./source";

const port = parentPort!;
const request = workerData as ParseRequest;
const send = (msg: FromParseThread) => port.postMessage(msg);

let ahead = 0;
let wake: (() => void) | null = null;
port.on("message", (msg: ToParseThread) => {
  if (msg.type !== "taken") return;
  ahead--;
  wake?.();
  wake = null;
});

async function main(): Promise<void> {
  const knownTracks = request.knownTracks && new Set(request.knownTracks);
  const toChunk = stageChunk(request.map, knownTracks);
  for await (const records of readRecords(request.file, request.format, (progress) => send({ type: "progress", progress }))) {
    while (ahead >= CHUNKS_AHEAD) await new Promise<void>((resolve) => (wake = resolve));
    ahead++;
    send({ type: "chunk", chunk: toChunk(records) });
  }
}

main().then(
  () => {
    send({ type: "done" });
    port.close();
  },
  (err: Error) => {
    send({ type: "failed", message: err.message });
    port.close();
  },
);
