import path from "node:path";
import { Worker } from "node:worker_threads";
import type { FromThread, ToThread } from "./protocol";

/** swc's register hook, resolved here: a thread's eval code would resolve it from the working directory. */
const SWC_REGISTER = require.resolve("@swc-node/register");

/** Starts a training thread running entry.ts through swc, as the CLI runs the sources. */
export function spawnTrainingThread(onMessage: (msg: FromThread) => void, onExit: (code: number, error?: Error) => void) {
  const entry = path.join(__dirname, "entry.ts");
  const worker = new Worker(`require(${JSON.stringify(SWC_REGISTER)}); require(${JSON.stringify(entry)});`, {
    eval: true,
    // The thread must not inherit jest's or the CLI's stdin.
    stdin: false,
  });
  let failure: Error | undefined;
  worker.on("message", onMessage);
  worker.on("error", (err) => (failure = err));
  worker.on("exit", (code) => onExit(code, failure));
  return {
    post(msg: ToThread, transfer: ArrayBuffer[] = []) {
      worker.postMessage(msg, transfer);
    },
    terminate: () => worker.terminate(),
  };
}
