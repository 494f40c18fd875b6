import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { getRun, startRun, type RunView } from "../../src/jobs/runs";
import type { Store } from "../../src/store/store";
import type { StoreConfig } from "../../src/store/config";
import { createServerDatabase } from "../helpers/store";

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

/** A store other processes can open too: a PGlite data directory, or a fresh database on the server. */
export async function processStore(prefix: string): Promise<{ config: StoreConfig; env: NodeJS.ProcessEnv; drop(): Promise<void> }> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    return {
      config: { backend: "pglite", location: path.join(dir, "pgdata") },
      env: { RUBATO_DATA_DIR: dir, DATABASE_URL: "" },
      drop: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  }
  const db = await createServerDatabase(url, "rubato_proc");
  return { config: { backend: "postgres", location: db.url }, env: { DATABASE_URL: db.url }, drop: db.drop };
}
