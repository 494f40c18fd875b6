/**
 * Specs made to hurt: sizes past their bounds, YAML alias bombs, deep and wide
 * documents, huge texts, deep overrides. Each is a spec error with a clear
 * message, found fast; none throws.
 */
import { applyOverrides, formatSpecError, loadSpec } from "../../src/spec";
import { MAX_REPORTED_ERRORS } from "../../src/spec/errors";
import { MAX_SPEC_BYTES } from "../../src/spec/positions";
import { errorLines, okSpec, parseNamed, parseX } from "./helpers";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const SHIPPED = (name: string) => readFileSync(join(__dirname, "../../models", `${name}.yaml`), "utf8");
const quick = (text: string) => parseNamed("x", { x: text, "fs-vae-quick": SHIPPED("fs-vae-quick"), "fs-vae": SHIPPED("fs-vae") });

describe("hostile specs", () => {
  it("refuses sizes no real run needs, naming each bound", () => {
    const text = [
      "name: x",
      "features: { fast: { window: 100000000 } }",
      "encoders: { fast: { units: 1000000000, layers: 100000 } }",
      "latent: { size: 100000000 }",
      "training: { batch_size: 2000000000, epochs: 1000000000, seed: 4294967296 }",
    ].join("\n");
    expect(errorLines(parseX(text))).toEqual([
      "models/x.yaml:2:21: features.fast.window: expected an integer from 1 to 1,000, got 100000000",
      "models/x.yaml:3:21: encoders.fast.units: expected an integer from 1 to 4,096, got 1000000000",
      "models/x.yaml:3:40: encoders.fast.layers: expected an integer from 1 to 16, got 100000",
      "models/x.yaml:4:11: latent.size: expected an integer from 1 to 1,024, got 100000000",
      "models/x.yaml:5:13: training.batch_size: expected an integer from 1 to 65,536, got 2000000000",
      "models/x.yaml:5:37: training.epochs: expected an integer from 1 to 10,000, got 1000000000",
      "models/x.yaml:5:57: training.seed: expected an integer from 0 to 2,147,483,647, got 4294967296",
    ]);
    // The bounds themselves are fine.
    okSpec(parseX("name: x\nencoders: { fast: { units: 4096, layers: 16 } }\nlatent: { size: 1024 }\ntraining: { batch_size: 65536 }\n"));
  });

  it("reports a YAML alias bomb as a spec error at the first alias, without expanding it", () => {
    const lines = ["extends: fs-vae-quick", "name: x", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++)
      lines.push(
        `a${i}: &a${i} [${Array(9)
          .fill(`*a${i - 1}`)
          .join(",")}]`,
      );
    lines.push("description: *a8");
    const started = Date.now();
    const errors = errorLines(quick(lines.join("\n")));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(errors).toEqual([
      expect.stringMatching(/^models\/x\.yaml:4:\d+: aliases \(\*name\) expand to too much: more than 100 copied nodes/),
    ]);
  });

  it("reads a document nested too deeply as a spec error", () => {
    const result = quick(`extends: fs-vae-quick\nname: x\ndescription: ${"[".repeat(7000)}${"]".repeat(7000)}\n`);
    expect(errorLines(result).join("\n")).toMatch(/nests too deeply|cannot read the YAML|expected a string/);
  });

  it("refuses a spec text over the size limit before parsing it", () => {
    const text = `name: x\ndescription: "${"x".repeat(MAX_SPEC_BYTES)}"\n`;
    expect(errorLines(parseX(text))).toEqual([
      `models/x.yaml: the spec is ${(MAX_SPEC_BYTES + 24).toLocaleString("en")} bytes; at most 16,384 are read (a spec holds a few hundred)`,
    ]);
  });

  it("reports thousands of unknown keys quickly, and at most MAX_REPORTED_ERRORS of them", () => {
    const keys = Array.from({ length: 1500 }, (_, i) => `k${i}: ${i}`).join("\n");
    const started = Date.now();
    const result = quick(`extends: fs-vae-quick\nname: x\n${keys}\n`);
    expect(Date.now() - started).toBeLessThan(2000);
    const errors = errorLines(result);
    expect(errors).toHaveLength(MAX_REPORTED_ERRORS);
    expect(errors[0]).toBe("models/x.yaml:3:1: k0: unknown key");
    expect(errors.at(-1)).toBe(`models/x.yaml: and ${1500 - MAX_REPORTED_ERRORS + 1} more errors`);
  });

  it("refuses overrides nested without end, and overrides with absurd sizes", () => {
    const base = okSpec(loadSpec("fs-vae-quick")).spec;
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    const nested = applyOverrides(base, { description: deep });
    expect(nested.ok).toBe(false);
    expect(!nested.ok && nested.errors.map(formatSpecError)).toEqual([
      "<overrides>: overrides nest deeper than 16 levels; a spec's deepest key has 3 (training.split.train)",
    ]);
    const absurd = applyOverrides(base, { encoders: { fast: { units: 1e9 } } });
    expect(!absurd.ok && absurd.errors.map(formatSpecError)).toEqual([
      "<overrides>: encoders.fast.units: expected an integer from 1 to 4,096, got 1000000000",
    ]);
  });
});
