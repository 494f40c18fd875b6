import { applyOverrides, parseSpec } from "../../src/spec";
import { errorLines, okSpec, parseNamed, warningLines } from "./helpers";

const base = [
  "name: base",
  "features:",
  "  fast: { window: 5, per_play: [track_embedding, skipped, daypart] }",
  "encoders:",
  "  fast: { type: lstm, units: 128 }",
  "  slow: { units: 64 }",
  "latent: { size: 80 }",
  "training: { epochs: 100, learning_rate: 1.0e-5 }",
].join("\n");

const mid = [
  "name: mid",
  "extends: base",
  "encoders:",
  "  fast: { units: 64 }",
  "training: { epochs: 8 }",
].join("\n");

const leaf = ["name: leaf", "extends: mid", "features:", "  fast: { per_play: [skipped] }", "latent: { size: 16 }"].join("\n");

describe("extends", () => {
  it("inherits through a chain: mappings merge, lists and scalars replace", () => {
    const r = okSpec(parseNamed("leaf", { base, mid, leaf }));
    expect(r.parents).toEqual(["mid", "base"]);
    expect(r.spec.name).toBe("leaf");
    expect(r.spec.extends).toBeNull();
    expect(r.spec.features.fast.per_play).toEqual(["skipped"]); // leaf's list replaces base's
    expect(r.spec.features.fast.window).toBe(5); // from base
    expect(r.spec.encoders.fast).toMatchObject({ type: "lstm", units: 64, layers: 2 }); // base, mid, default
    expect(r.spec.encoders.slow.units).toBe(64);
    expect(r.spec.latent.size).toBe(16);
    expect(r.spec.training).toMatchObject({ epochs: 8, learning_rate: 1e-5 });
  });

  it("does not inherit the parent's name", () => {
    const r = parseNamed("child", { base, child: "extends: base\nlatent: { size: 8 }\n" });
    expect(errorLines(r)).toEqual([
      "models/child.yaml:1:1: name: required key missing: expected a spec name (lowercase letters, digits, '.', '_' or '-')",
    ]);
  });

  it("reports a cycle at the extends that closes it", () => {
    const a = "name: a\nextends: b\n";
    const b = "name: b\ndescription: second\nextends: a\n";
    expect(errorLines(parseNamed("a", { a, b }))).toEqual(["models/b.yaml:3:1: extends: cycle: a -> b -> a"]);
    expect(errorLines(parseNamed("s", { s: "name: s\nextends: s\n" }))).toEqual(["models/s.yaml:2:1: extends: cycle: s -> s"]);
  });

  it("reports an unknown parent with the nearest known name", () => {
    expect(errorLines(parseNamed("x", { base, x: "name: x\nextends: bsae\n" }))).toEqual([
      'models/x.yaml:2:1: extends: unknown spec "bsae"; did you mean "base"?',
    ]);
    expect(errorLines(parseSpec("name: x\nextends: fs-vae\n", { file: "x.yaml" }))).toEqual(['x.yaml:2:1: extends: unknown spec "fs-vae"']);
  });

  it("still reports the child's own field errors when the parent is unknown", () => {
    const r = parseNamed("x", { x: "name: x\nextends: nope\nlatent: { size: -1 }\n" });
    expect(errorLines(r)).toEqual([
      'models/x.yaml:2:1: extends: unknown spec "nope"',
      "models/x.yaml:3:11: latent.size: expected an integer from 1 to 1,024, got -1",
    ]);
  });

  it("reports errors in a parent at the parent's positions, with the child's own errors", () => {
    const parent = ["name: parent", "encoders:", "  fast: { unitz: 3 }", "latent: { size: 0 }"].join("\n");
    const child = ["name: child", "extends: parent", "loss: { beta: -1 }"].join("\n");
    expect(errorLines(parseNamed("child", { parent, child }))).toEqual([
      "models/child.yaml:3:9: loss.beta: expected a non-negative number, got -1",
      'models/parent.yaml:3:11: encoders.fast.unitz: unknown key; did you mean "units"?',
      "models/parent.yaml:4:11: latent.size: expected an integer from 1 to 1,024, got 0",
    ]);
  });

  it("reports a value the child overrides at the child, not the parent", () => {
    const parent = "name: parent\nlatent: { size: 0 }\n";
    const child = "name: child\nextends: parent\nlatent: { size: oops }\n";
    expect(errorLines(parseNamed("child", { parent, child }))).toEqual([
      'models/child.yaml:3:11: latent.size: expected an integer from 1 to 1,024, got "oops"',
    ]);
  });

  it("reports a cross-field error in the file whose change caused it", () => {
    const parent = "name: parent\nloss: { beta: 0.5 }\n";
    const child = "name: child\nextends: parent\nlatent:\n  probabilistic: false\n";
    expect(errorLines(parseNamed("child", { parent, child }))[0]).toMatch(/^models\/child\.yaml:4:3: latent\.probabilistic: /);
    const split = "name: split\nextends: parent\ntraining: { split: { test: 0.3 } }\n";
    expect(errorLines(parseNamed("split", { parent, split }))).toEqual([
      "models/split.yaml:3:13: training.split: fractions must sum to 1, got 0.7 + 0.2 + 0.3 = 1.2",
    ]);
  });

  it("reports YAML syntax errors in a parent in the parent's file", () => {
    const parent = "name: parent\nlatent: { size: 8\n";
    const lines = errorLines(parseNamed("child", { parent, child: "name: child\nextends: parent\n" }));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.startsWith("models/parent.yaml:"))).toBe(true);
  });

  it("reports a parent's malformed extends in the parent", () => {
    const parent = "name: parent\nextends: [a, b]\n";
    expect(errorLines(parseNamed("child", { parent, child: "name: child\nextends: parent\n" }))).toEqual([
      "models/parent.yaml:2:1: extends: expected a spec name (lowercase letters, digits, '.', '_' or '-'), or null, got a list",
    ]);
  });

  it("requires a parent to carry the name it is looked up by", () => {
    const r = parseNamed("child", { parent: "name: other\n", child: "name: child\nextends: parent\n" });
    expect(errorLines(r)).toEqual(['models/parent.yaml:1:1: name: must be "parent", the name this spec was looked up by']);
  });
});

describe("canonical form and hash", () => {
  const ordered = "name: h\nlatent: { size: 8, combine: sum }\ntraining: { epochs: 3, seed: 1 }\n";
  const shuffled = "training:\n  seed: 1\n  epochs: 3\nlatent:\n  combine: sum\n  size: 8\nname: h\n";

  it("is the same whatever the key order or style of the source", () => {
    const a = okSpec(parseSpec(ordered, { file: "a.yaml" }));
    const b = okSpec(parseSpec(shuffled, { file: "b.yaml" }));
    expect(b.hash).toBe(a.hash);
    expect(b.yaml).toBe(a.yaml);
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("changes when any value changes", () => {
    const a = okSpec(parseSpec(ordered, { file: "a.yaml" }));
    const c = okSpec(parseSpec(ordered.replace("seed: 1", "seed: 2"), { file: "c.yaml" }));
    expect(c.hash).not.toBe(a.hash);
  });

  it("equals the hash of spelling every default out", () => {
    const explicit = okSpec(parseSpec("name: h\nextends: null\ntype: fs-vae\nlatent: { size: 80 }\n", { file: "e.yaml" }));
    const minimal = okSpec(parseSpec("name: h\n", { file: "m.yaml" }));
    expect(explicit.hash).toBe(minimal.hash);
  });

  it("leaves out the sections another model type reads, so a new type's section moves no existing hash", () => {
    const fsVae = okSpec(parseSpec("name: h\n", { file: "a.yaml" }));
    const withJodieField = okSpec(parseSpec("name: h\njodie: { units: 7 }\n", { file: "b.yaml" }));
    expect(withJodieField.hash).toBe(fsVae.hash);
    expect(fsVae.yaml).not.toMatch(/^(jodie|latent_cross):/m);
    // Read by its own type: in the hash and the YAML.
    const jodie = "name: j\ntype: jodie\nfeatures: { fast: { per_play: [track_embedding, time_since_last] }, slow: { aggregates: [plays, hours_since_last] } }\n";
    const a = okSpec(parseSpec(jodie, { file: "j.yaml" }));
    const b = okSpec(parseSpec(`${jodie}jodie: { units: 7 }\n`, { file: "k.yaml" }));
    expect(b.hash).not.toBe(a.hash);
    expect(b.yaml).toMatch(/^jodie:\n {2}units: 7$/m);
    expect(okSpec(parseSpec(b.yaml, { file: "again.yaml" })).hash).toBe(b.hash);
  });

  it("round-trips: the canonical YAML parses to the same spec and hash, with no parent needed", () => {
    const r = okSpec(parseNamed("leaf", { base, mid, leaf }));
    const again = okSpec(parseSpec(r.yaml, { file: "canonical.yaml" }));
    expect(again.spec).toEqual(r.spec);
    expect(again.hash).toBe(r.hash);
    expect(r.yaml).toMatch(/^name: leaf\nextends: null\n/);
  });
});

describe("applyOverrides", () => {
  const spec = okSpec(parseNamed("leaf", { base, mid, leaf })).spec;

  it("deep-merges JSON overrides and returns a new canonical form", () => {
    const r = okSpec(applyOverrides(spec, { encoders: { fast: { units: 32 } }, training: { epochs: 2 } }));
    expect(r.spec.encoders.fast).toMatchObject({ units: 32, type: "lstm" });
    expect(r.spec.training.epochs).toBe(2);
    expect(r.spec.latent.size).toBe(16);
    expect(r.hash).not.toBe(okSpec(applyOverrides(spec, {})).hash);
    expect(okSpec(applyOverrides(spec, {})).spec).toEqual(spec);
  });

  it("validates overrides with the same schema and rules, without positions", () => {
    const r = applyOverrides(spec, { encoders: { fast: { units: "128x", unit: 3 } }, training: { split: { train: 0.9 } } });
    expect(errorLines(r)).toEqual([
      '<overrides>: encoders.fast.unit: unknown key; did you mean "units"?',
      '<overrides>: encoders.fast.units: expected an integer from 1 to 4,096, got "128x"',
      "<overrides>: training.split: fractions must sum to 1, got 0.9 + 0.2 + 0.1 = 1.2",
    ]);
  });

  it("attributes a cross-field error to the override that caused it", () => {
    expect(errorLines(applyOverrides(spec, { latent: { probabilistic: false } }))[0]).toMatch(/^<overrides>: latent\.probabilistic: /);
    expect(warningLines(okSpec(applyOverrides(spec, { latent: { probabilistic: false }, loss: { beta: 0 } })))).toEqual([]);
  });

  it("rejects extends and non-mapping overrides", () => {
    expect(errorLines(applyOverrides(spec, { extends: "base" }))).toEqual([
      "<overrides>: extends: cannot be set by overrides; they apply to a resolved spec",
    ]);
    expect(errorLines(applyOverrides(spec, [1]))).toEqual(["<overrides>: expected a mapping of overrides"]);
  });
});
