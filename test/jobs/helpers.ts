import { getRun, startRun, type RunView } from "../../src/jobs/runs";
import type { Store } from "../../src/store/store";

/** fs-vae-quick shrunk to train in seconds on a tiny world. */
export const TINY = {
  training: { epochs: 2, batch_size: 64, early_stopping: { patience: 5 } },
  encoders: { fast: { units: 8, layers: 1 }, slow: { units: 8, layers: 1 } },
  latent: { size: 4 },
  decoder: { units: 16, layers: 1 },
};

export function tinyRun(store: Store, training: Record<string, unknown> = {}) {
  return startRun(store, { model: "fs-vae-quick", overrides: { ...TINY, training: { ...TINY.training, ...training } } });
}

export async function waitForRun(store: Store, id: string, until: (r: RunView) => boolean, timeoutMs = 120_000): Promise<RunView> {
  const started = Date.now();
  for (;;) {
    const r = await getRun(store, id);
    if (until(r)) return r;
    if (Date.now() - started > timeoutMs) throw new Error(`run ${id} still ${r.status} after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

export const ended = (r: RunView) => ["SUCCEEDED", "FAILED", "CANCELLED"].includes(r.status);
