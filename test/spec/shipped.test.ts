import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatSpecError, listShippedSpecs, loadSpec, specDimensions, type ModelSpec } from "../../src/spec";
import { errorLines, okSpec } from "./helpers";

const MODELS = join(__dirname, "../../models");
const load = (name: string) => okSpec(loadSpec(name, { modelsDir: MODELS }));

/** Dotted paths whose values differ between two specs (name and description aside). */
function changed(a: ModelSpec, b: ModelSpec): string[] {
  const out: string[] = [];
  const walk = (x: unknown, y: unknown, path: string) => {
    if (x && y && typeof x === "object" && typeof y === "object" && !Array.isArray(x)) {
      for (const k of Object.keys(x)) walk((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
    } else if (JSON.stringify(x) !== JSON.stringify(y)) out.push(path);
  };
  walk(a, b, "");
  return out.filter((p) => p !== "name" && p !== "description").sort();
}

describe("shipped specs", () => {
  it("all resolve, without warnings, named after their files", () => {
    const shipped = listShippedSpecs(MODELS);
    expect(shipped.map((s) => s.name)).toEqual([
      "aggregate-sequence",
      "average",
      "fs-vae",
      "fs-vae-quick",
      "fs-vae-starter",
      "jodie",
      "latent-cross",
      "no-fast",
      "no-slow",
      "non-probabilistic",
      "popularity",
      "recent",
      "shuffle",
      "vae-cf",
      "vanilla-rnn",
    ]);
    for (const s of shipped) {
      const problems = s.result.ok ? s.result.warnings : s.result.errors;
      expect({ name: s.name, problems: problems.map(formatSpecError) }).toEqual({ name: s.name, problems: [] });
      if (s.result.ok) expect(s.result.spec.name).toBe(s.name);
    }
  });

  it("fs-vae is the paper's configuration", () => {
    const { spec, parents } = load("fs-vae");
    expect(parents).toEqual([]);
    expect(spec.type).toBe("fs-vae");
    expect(spec.features.fast).toMatchObject({ enabled: true, window: 5, shuffle: false });
    expect(spec.features.slow.aggregates).toEqual(["plays", "likes", "playlist_adds", "skips", "restarts", "liked_plays"]);
    expect(spec.encoders.fast).toMatchObject({ type: "lstm", layers: 2, activation: "leaky_relu" });
    expect(spec.encoders.slow).toMatchObject({ type: "dense", layers: 2, activation: "leaky_relu" });
    expect(spec.latent).toMatchObject({ size: 80, probabilistic: true, combine: "concat" });
    expect(spec.decoder.layers).toBe(2);
    expect(spec.loss.beta).toBe(0.5);
    expect(spec.training).toMatchObject({ optimizer: "adam", learning_rate: 1e-5, epochs: 100 });
    expect(spec.training.split).toEqual({ by: "time", train: 0.7, validation: 0.2, test: 0.1 });
    expect(specDimensions(spec, 80)).toEqual({ fastStep: 80 + 1 + 4, slow: 6, latent: 160, output: 80 });
  });

  it("fs-vae-quick changes only training speed, widths, dropout, the embedding scale, the skip path and KL settings of fs-vae", () => {
    const quick = load("fs-vae-quick");
    expect(quick.parents).toEqual(["fs-vae"]);
    expect(changed(quick.spec, load("fs-vae").spec)).toEqual([
      "decoder.dropout",
      "decoder.skip",
      "encoders.fast.dropout",
      "encoders.slow.dropout",
      "encoders.slow.units",
      "features.embedding_scale",
      "latent.free_bits",
      "latent.kl_warmup_steps",
      "loss.beta",
      "training.batch_size",
      "training.early_stopping.patience",
      "training.epochs",
      "training.learning_rate",
    ]);
    expect(quick.spec.loss.beta).toBeLessThan(0.1);
    expect(quick.spec.latent.kl_warmup_steps).toBeGreaterThan(0);
    expect(quick.spec.latent.free_bits).toBeGreaterThan(0);
  });

  it.each([
    ["fs-vae-starter", ["training.early_stopping.patience", "training.epochs"]],
    ["no-fast", ["decoder.skip", "features.fast.enabled"]],
    ["no-slow", ["features.slow.enabled"]],
    ["shuffle", ["features.fast.shuffle"]],
    ["non-probabilistic", ["latent.free_bits", "latent.kl_warmup_steps", "latent.probabilistic", "loss.beta"]],
    ["aggregate-sequence", ["encoders.fast.type"]],
    ["jodie", ["features.fast.per_play", "features.slow.aggregates", "type"]],
    ["latent-cross", ["features.fast.per_play", "features.slow.aggregates", "type"]],
    [
      "vanilla-rnn",
      [
        "encoders.fast.layers",
        "encoders.fast.type",
        "features.slow.enabled",
        "latent.free_bits",
        "latent.kl_warmup_steps",
        "latent.probabilistic",
        "loss.beta",
      ],
    ],
  ])("%s differs from fs-vae-quick in exactly %j", (name, paths) => {
    const r = load(name);
    expect(r.parents).toEqual(["fs-vae-quick", "fs-vae"]);
    expect(changed(r.spec, load("fs-vae-quick").spec)).toEqual(paths);
  });

  it("the ablations switch what they say", () => {
    expect(load("no-fast").spec.features.fast.enabled).toBe(false);
    expect(load("no-slow").spec.features.slow.enabled).toBe(false);
    expect(load("shuffle").spec.features.fast.shuffle).toBe(true);
    expect(load("non-probabilistic").spec.latent.probabilistic).toBe(false);
    expect(load("non-probabilistic").spec.loss.beta).toBe(0);
    expect(load("vanilla-rnn").spec.encoders.fast.type).toBe("rnn");
    expect(load("aggregate-sequence").spec.encoders.fast.type).toBe("mean");
    expect(specDimensions(load("no-fast").spec, 80)).toMatchObject({ fastStep: 0, latent: 80 });
    const shares = {
      ...load("fs-vae").spec,
      features: { ...load("fs-vae").spec.features, slow: { ...load("fs-vae").spec.features.slow, daypart_shares: true } },
    };
    expect(specDimensions(shares, 80).slow).toBe(10);
  });

  it("average, recent and popularity are non-learned types sharing the paper's split", () => {
    for (const name of ["average", "recent", "popularity"]) {
      const { spec } = load(name);
      expect(spec.type).toBe(name);
      expect(spec.training.split).toEqual(load("fs-vae").spec.training.split);
    }
  });

  it("recent averages the paper's window, the one fs-vae's fast features see", () => {
    expect(load("recent").spec.features.fast.window).toBe(5);
    expect(load("recent").spec.features.fast.window).toBe(load("fs-vae").spec.features.fast.window);
  });
});

describe("loadSpec", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "rubato-spec-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("loads by path, resolving parents in the file's directory", () => {
    writeFileSync(join(dir, "p.yaml"), "name: p\nlatent: { size: 12 }\n");
    writeFileSync(join(dir, "c.yml"), "name: c\nextends: p\n");
    expect(okSpec(loadSpec(join(dir, "c.yml"))).spec.latent.size).toBe(12);
    expect(okSpec(loadSpec("c", { modelsDir: dir })).parents).toEqual(["p"]);
  });

  it("requires a spec loaded by name to carry that name", () => {
    writeFileSync(join(dir, "wrong.yaml"), "description: d\nname: right\n");
    expect(errorLines(loadSpec("wrong", { modelsDir: dir }))).toEqual([
      `${join(dir, "wrong.yaml")}:2:1: name: must be "wrong", the name this spec was looked up by`,
    ]);
  });

  it("reports a missing spec or file", () => {
    expect(errorLines(loadSpec("nope", { modelsDir: dir }))).toEqual([`${dir}: no spec named "nope" in ${dir}`]);
    expect(errorLines(loadSpec(join(dir, "nope.yaml")))).toEqual([`${join(dir, "nope.yaml")}: cannot read ${join(dir, "nope.yaml")}`]);
  });
});

describe("a spec file of one's own", () => {
  it("extends a shipped spec from any directory", () => {
    const dir = mkdtempSync(join(tmpdir(), "rubato-own-spec-"));
    const file = join(dir, "mine.yaml");
    writeFileSync(file, "name: mine\nextends: fs-vae-quick\ntraining: { epochs: 9 }\n");
    const r = loadSpec(file);
    rmSync(dir, { recursive: true, force: true });
    expect(r.ok && r.spec.training.epochs).toBe(9);
    expect(r.ok && r.parents).toEqual(["fs-vae-quick", "fs-vae"]);
  });
});
