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

describe("rubato eval --merge (CLI, PGlite): one evaluation from parts", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rubato-cli-merge-"));
  const env = { ...process.env, RUBATO_DATA_DIR: dataDir, DATABASE_URL: "", RUBATO_LOG_LEVEL: "warn" };
  const rubato = (...args: string[]) => run("node", [bin, ...args], { env, cwd: dataDir });
  const file = (name: string) => path.join(dataDir, name);
  const readJson = (name: string) => JSON.parse(fs.readFileSync(file(name), "utf8"));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  beforeAll(async () => {
    await rubato("demo-data", "--users", "30", "--tracks", "100", "--days", "4", "--seed", "5");
    // Two parts in one store; average is in both, with the same (reused) runs.
    await rubato("eval", "--models", "fs-vae-quick,average", "--seeds", "2", "--epochs", "1", "--out", file("a.json"));
    await rubato("eval", "--models", "average,recent,popularity", "--seeds", "2", "--out", file("b.json"));
  }, 300_000);

  it("gives the tables that one evaluation of every model gives", async () => {
    const merged = await rubato("eval", "--merge", file("a.json"), file("b.json"), "--compare", "average", "--out", file("m.json"));
    const whole = await rubato(
      "eval",
      "--models",
      "fs-vae-quick,average,recent,popularity",
      "--seeds",
      "2",
      "--epochs",
      "1",
      "--compare",
      "average",
    );
    expect(whole.stderr).toContain("(8 reused, 0 failed)");
    expect(merged.stdout).toBe(whole.stdout);
    expect(merged.stdout).toMatch(/\| fs-vae-quick \|[\s\S]*\| average \|[\s\S]*\| recent \|[\s\S]*\| popularity \|/);
    expect(merged.stdout).toContain("What sigma says");
    expect(merged.stderr).toContain("8 runs of 4 models merged from 2 files (0 failed)");
    const json = readJson("m.json");
    expect(json.models.map((m: { model: string }) => m.model)).toEqual(["fs-vae-quick", "average", "recent", "popularity"]);
    expect(json.mergedFrom).toEqual([
      { source: file("a.json"), models: ["fs-vae-quick", "average"] },
      { source: file("b.json"), models: ["recent", "popularity"] },
    ]);
    // A merged file merges again, with the same tables.
    const again = await rubato("eval", "--merge", file("m.json"), file("b.json"), "--compare", "average");
    expect(again.stdout).toBe(merged.stdout);
  });

  it("refuses parts of different data, a model trained twice, and files that are not evaluations", async () => {
    const b = readJson("b.json");
    fs.writeFileSync(file("later.json"), JSON.stringify({ ...b, dataCutoff: "2030-01-01T00:00:00.000Z" }));
    let err = await rubato("eval", "--merge", file("a.json"), file("later.json")).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toContain(`${file("later.json")} has data up to 2030-01-01T00:00:00.000Z and ${file("a.json")} up to`);
    expect(err.stderr).toContain("must share the data cut-off");

    const retrained = {
      ...b,
      models: b.models.map((m: { runs: { runId: string }[] }) => ({ ...m, runs: m.runs.map((r) => ({ ...r, runId: `${r.runId}x` })) })),
    };
    fs.writeFileSync(file("retrained.json"), JSON.stringify(retrained));
    err = await rubato("eval", "--merge", file("a.json"), file("retrained.json")).catch((e) => e);
    expect(err.stderr).toMatch(/average is in \S+a\.json and in \S+retrained\.json with different runs .*leave it out of one part/);

    fs.writeFileSync(
      file("broken.json"),
      JSON.stringify({ ...b, models: [{ ...b.models[0], runs: [{ ...b.models[0].runs[0], seed: "one" }] }] }),
    );
    err = await rubato("eval", "--merge", file("a.json"), file("broken.json")).catch((e) => e);
    expect(err.stderr).toContain(`${file("broken.json")} is not the JSON of rubato eval --out: models[0].runs[0].seed:`);

    fs.writeFileSync(file("text.json"), "Table 1. ...");
    err = await rubato("eval", "--merge", file("a.json"), file("text.json")).catch((e) => e);
    expect(err.stderr).toContain(`--merge: ${file("text.json")} is not JSON`);

    err = await rubato("eval", "--merge", file("a.json"), file("missing.json")).catch((e) => e);
    expect(err.stderr).toContain(`--merge: cannot read ${file("missing.json")}: ENOENT`);

    err = await rubato("eval", "--merge", file("a.json")).catch((e) => e);
    expect(err.stderr).toContain("--merge expects at least two files written by rubato eval --out, got 1");

    err = await rubato("eval", "--merge", file("a.json"), file("b.json"), "--seeds", "3").catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/option '--merge <files\.\.\.>' cannot be used with option '--seeds/);

    err = await rubato("eval", "--merge", file("a.json"), file("b.json"), "--compare", "jodie").catch((e) => e);
    expect(err.stderr).toContain(
      '--compare names "jodie", which is in none of the parts; they hold fs-vae-quick, average, recent, popularity',
    );
  });
});
