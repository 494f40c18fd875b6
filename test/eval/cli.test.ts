import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const bin = path.resolve(__dirname, "../../bin/rubato.js");

describe("rubato eval (CLI, PGlite)", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rubato-cli-eval-"));
  const env = { ...process.env, RUBATO_DATA_DIR: dataDir, DATABASE_URL: "", RUBATO_LOG_LEVEL: "warn" };
  const rubato = (...args: string[]) => run("node", [bin, ...args], { env, cwd: os.tmpdir() });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it("has help with an example", async () => {
    const { stdout } = await rubato("eval", "--help");
    expect(stdout).toContain("--seeds <n|list>");
    expect(stdout).toContain(
      "rubato eval --models fs-vae-quick,jodie,latent-cross,vae-cf,vanilla-rnn,aggregate-sequence,average,recent,popularity,no-fast,no-slow,shuffle,non-probabilistic --seeds 3",
    );
    expect(stdout).toContain("--compare <model>");
    expect(stdout).toMatch(/rubato eval --models \S+ --seeds \d+ --compare recent/);
    expect(stdout).toMatch(/warning: fs-vae-quick does not beat recent: L2 [\d.]+ vs [\d.]+, HR@10/);
    expect(stdout).toContain("norm: prediction / target");
  });

  it("rejects an unknown --compare model before anything is trained", async () => {
    const err = await rubato("eval", "--models", "average", "--seeds", "1", "--compare", "avrage").catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toContain('rubato: unknown model "avrage"');
  });

  it("rejects an unknown model by name, listing the known ones, and exits 1", async () => {
    const err = await rubato("eval", "--models", "fs-vae-quick,popularty", "--seeds", "2").catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toContain('rubato: unknown model "popularty"; expected a shipped spec, a model trained before, or a spec file');
    expect(err.stderr).toMatch(
      /known models: aggregate-sequence, average, fs-vae, .*jodie, latent-cross, .*popularity, recent, shuffle, vae-cf, vanilla-rnn/,
    );
  });

  it("rejects bad seeds", async () => {
    const err = await rubato("eval", "--seeds", "1,two").catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toContain('--seeds expects a count N (seeds 1..N) or a list of non-negative integers like 1,2,3; got "1,two"');
  });
});
