/** `rubato validate` as a user runs it: a child process, no store needed. */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { writeTemp } from "../helpers/files";

const run = promisify(execFile);
const bin = path.resolve(__dirname, "../../bin/rubato.js");
const models = path.resolve(__dirname, "../../models");
const rubato = (...args: string[]) => run("node", [bin, ...args], { cwd: path.resolve(__dirname, "../..") });

describe("rubato validate", () => {
  it("prints the compiled graph of valid specs (names or files)", async () => {
    const { stdout } = await rubato("validate", "fs-vae-quick", path.join(models, "no-fast.yaml"), "average", "--embedding-dim", "16");
    expect(stdout).toMatch(/^fs-vae-quick: ok \(fs-vae-quick, extends fs-vae; hash [0-9a-f]{12}\)/);
    expect(stdout).toMatch(/encoder_s\/lstm0 +lstm +\[b, 5, 128\]/);
    expect(stdout).toMatch(/decoder\/skip +variable +\[5\] +5 /);
    expect(stdout).toMatch(/decoder\/out +dense +\[b, 16\]/);
    expect(stdout).toMatch(/total parameters: [\d,]+/);
    const noFast = stdout.split("\n\n").find((section) => section.includes("no-fast.yaml: ok"))!;
    expect(noFast).toMatch(/encoder_n\/mu/);
    expect(noFast).not.toMatch(/encoder_s/);
    expect(stdout).toMatch(/non-learned baseline \(type average\): no graph/);
  });

  it("prints every spec error with file:line:col and exits 1", async () => {
    const file = writeTemp("bad-spec.yaml", "name: bad-spec\nextends: fs-vae\nencoders:\n  fast: { unit: 64, type: gru }\n");
    const err = await rubato("validate", file, "--models-dir", models).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toContain(`${file}:4:11: encoders.fast.unit: unknown key; did you mean "units"?`);
    expect(err.stderr).toContain(`${file}:4:21: encoders.fast.type: expected one of lstm, rnn, mean, got "gru"`);
  });
});
