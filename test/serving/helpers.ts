/** A small world with one tiny trained run, for the serving tests. */
import { getRun, startRun, type RunView } from "../../src/jobs/runs";
import { RunWorker } from "../../src/jobs/worker";
import { loadDemoWorld } from "../../src/data/demo-data";
import type { Store } from "../../src/store/store";
import { RubatoError } from "../../src/errors";

/** fs-vae-quick shrunk to train in a few seconds (latent 4 per branch, so mu has 8 values). */
export const TINY = {
  training: { epochs: 1, batch_size: 64 },
  encoders: { fast: { units: 8, layers: 1 }, slow: { units: 8, layers: 1 } },
  latent: { size: 4 },
  decoder: { units: 16, layers: 1 },
};

export const WORLD = { users: 30, tracks: 150, days: 4, seed: 11 };

/** Loads the world and trains one tiny run through the real queue and worker; returns the finished run. */
export async function trainedWorld(store: Store): Promise<RunView> {
  await loadDemoWorld(store, WORLD);
  const started = await startRun(store, { model: "fs-vae-quick", overrides: TINY });
  const worker = new RunWorker(store, { exclusive: store.backend === "pglite", pollMs: 50, heartbeatMs: 500 });
  await worker.start();
  try {
    for (const deadline = Date.now() + 120_000; ;) {
      const run = await getRun(store, started.id);
      if (run.status === "SUCCEEDED") return run;
      if (["FAILED", "CANCELLED"].includes(run.status)) throw new Error(`training ${run.status}: ${run.error}`);
      if (Date.now() > deadline) throw new Error(`training still ${run.status} after 120 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await worker.stop();
  }
}

/** The error a promise rejects with, with its code and message, for toMatchObject. */
export async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof RubatoError) return { code: err.code, message: err.message, details: err.details };
    throw err;
  }
  throw new Error("expected a rejection");
}

/**
 * Neighbour lists agree: the same distances in the same order, and the same
 * tracks except where a tie at the k-th distance (within rounding: float32
 * vectors, different summation orders) lets either side pick another.
 */
export function expectSameNeighbours(got: { id: string; distance: number }[], want: { id: string; distance: number }[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(g.distance).toBeCloseTo(want[i].distance, 4));
  const bar = want.length ? want[want.length - 1].distance - 1e-4 : 0;
  const core = (xs: { id: string; distance: number }[]) =>
    xs
      .filter((x) => x.distance < bar)
      .map((x) => x.id)
      .sort();
  expect(core(got)).toEqual(core(want));
}
