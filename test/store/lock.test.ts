/**
 * PGlite has no lock of its own: a second process opening the same data
 * directory would write it too and corrupt it (issue 17, more than one
 * process). The store keeps a lock file beside the directory while open; one
 * left by a process killed with kill -9 is taken over.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openStore } from "../../src/store/store";
import type { StoreConfig } from "../../src/store/config";
import { rubato } from "../jobs/processes";

describe("the embedded store's lock", () => {
  let dir: string;
  let config: StoreConfig;
  let lock: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rubato-lock-"));
    config = { backend: "pglite", location: path.join(dir, "pgdata") };
    lock = `${config.location}.lock`;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("refuses a second open while the store is open, in this process and in another; a close releases it", async () => {
    const store = await openStore(config);
    try {
      expect(JSON.parse(fs.readFileSync(lock, "utf8"))).toEqual({ pid: process.pid, host: os.hostname() });
      await expect(openStore(config)).rejects.toThrow(/already open in this process/);
      const status = rubato(["status"], { RUBATO_DATA_DIR: dir, DATABASE_URL: "" });
      const exit = await status.exited;
      expect({ code: exit.code, output: status.output() }).toMatchObject({
        code: 1,
        output: expect.stringContaining(`is open in process ${process.pid}: PGlite serves one process at a time`),
      });
    } finally {
      await store.close();
    }
    expect(fs.existsSync(lock)).toBe(false);
    await (await openStore(config)).close();
  });

  it("takes over a lock left by a process that is gone (kill -9), and refuses one held by a live process", async () => {
    const gone = spawnSync(process.execPath, ["-e", ""]).pid!;
    fs.writeFileSync(lock, JSON.stringify({ pid: gone, host: os.hostname() }));
    const store = await openStore(config);
    await store.close();
    expect(fs.existsSync(lock)).toBe(false);

    fs.writeFileSync(lock, JSON.stringify({ pid: process.ppid, host: os.hostname() }));
    await expect(openStore(config)).rejects.toThrow(`is open in process ${process.ppid}`);
    fs.rmSync(lock);
  });
});
