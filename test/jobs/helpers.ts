import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { getRun, startRun, type RunView } from "../../src/jobs/runs";
import type { Store } from "../../src/store/store";
import type { StoreConfig } from "../../src/store/config";

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
  const name = `rubato_proc_${crypto.randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const dbUrl = new URL(url);
  dbUrl.pathname = `/${name}`;
  return {
    config: { backend: "postgres", location: dbUrl.toString() },
    env: { DATABASE_URL: dbUrl.toString() },
    drop: async () => {
      const a = new pg.Client({ connectionString: url });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}
