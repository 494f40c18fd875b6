import type { Store } from "./store/store";

/**
 * A test hook, off unless RUBATO_TEST_PAUSE_AT is set: tests that signal a
 * real `rubato worker` / `rubato serve` process use it to land a SIGTERM at a
 * known point of a run (test/jobs/signals.test.ts).
 *
 * RUBATO_TEST_PAUSE_AT=<point>[=<ms>][,<point>[=<ms>]...] makes `testPause(point, signal)`
 * print `RUBATO_TEST_PAUSED <point>` on stderr, then wait until `signal`
 * aborts (the process is shutting down) or the point's ms, else RUBATO_TEST_PAUSE_MS
 * (default 60 s), pass, and return without throwing: it stands for a slow await that does
 * not look at the signal, so the code after it must. With
 * RUBATO_TEST_PAUSE_STUCK=1 it ignores the signal too (a hung await: only the
 * timeout ends it), for the exit paths that do not wait for the run. Points:
 *
 * - `claimed`: a run was claimed; nothing of it is built yet (src/jobs/execute.ts).
 * - `dataset`: the dataset build has read its first user (src/train/data.ts).
 * - `evaluation`: a run is trained, its test metrics computed, its final checkpoint committed
 *   and a batch of its users' embeddings stored; the run is not finished (src/jobs/embeddings.ts).
 * - `record-plays`: a recordPlays call is validated, its transaction not begun (src/serving/plays.ts);
 *   the pause ignores shutdown, as a request in flight does.
 * - `checkpoint`: a run's checkpoint is written, not yet committed (src/jobs/execute.ts).
 * - `import`: an import's rows (tracks, or plays) are all written, not yet committed
 *   (rubato import, rubato demo-data, the demo world `rubato serve` loads).
 * - `embed-tracks`: the learnt embeddings are written, not yet committed (rubato embed-tracks).
 *
 * The last three come through `pauseBeforeCommit`, so that a kill there lands on a
 * transaction with its writes done and its commit pending.
 */
export async function testPause(point: string, signal?: AbortSignal): Promise<void> {
  const ms = pauseMs(point);
  if (ms === null) return;
  process.stderr.write(`RUBATO_TEST_PAUSED ${point}\n`);
  if (process.env.RUBATO_TEST_PAUSE_STUCK === "1") signal = undefined;
  if (signal?.aborted) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** How long a pause at `point` lasts at most, or null when the point is off. */
function pauseMs(point: string): number | null {
  for (const entry of process.env.RUBATO_TEST_PAUSE_AT?.split(",") ?? []) {
    const [name, ms] = entry.split("=");
    if (name === point) return Number(ms) || Number(process.env.RUBATO_TEST_PAUSE_MS) || 60_000;
  }
  return null;
}

/** The store, with a `testPause(point)` at the end of every transaction, before its commit (the store itself when the point is off). */
export function pauseBeforeCommit(store: Store, point: string, signal?: AbortSignal): Store {
  if (pauseMs(point) === null) return store;
  return {
    ...store,
    transaction: (fn) =>
      store.transaction(async (tx) => {
        const result = await fn(tx);
        await testPause(point, signal);
        return result;
      }),
  };
}
