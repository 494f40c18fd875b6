import { execFile } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { writeTemp } from "../helpers/files";

const run = promisify(execFile);
const bin = path.resolve(__dirname, "../../bin/rubato.js");

/** `rubato validate` as a user runs it: no store, a spec file, the exit code and what it prints. */
describe("rubato validate on specs too big or made to hurt", () => {
  const validate = (env: Record<string, string>, ...args: string[]) =>
    run("node", [bin, "validate", ...args], { env: { ...process.env, ...env }, cwd: os.tmpdir() }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  it("refuses a spec within every bound whose memory estimate exceeds the budget, naming both; --events adds the data", async () => {
    const huge = writeTemp(
      "huge.yaml",
      "name: huge\nextends: fs-vae-quick\nencoders: { fast: { units: 4096, layers: 8 } }\ntraining: { batch_size: 65536 }\nfeatures: { fast: { window: 1000 } }\n",
    );
    const r = await validate({ RUBATO_MEMORY_BUDGET: "16GiB" }, huge);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^${huge}: training.batch_size: the run needs an estimated [\\d.]+ TiB .* more than the memory budget of 16.0 GiB \\(RUBATO_MEMORY_BUDGET\\)`,
      ),
    );
    const quick = await validate({ RUBATO_MEMORY_BUDGET: "64MiB" }, "fs-vae-quick", "--events", "10000000");
    expect(quick.code).toBe(1);
    expect(quick.stderr).toMatch(/the dataset of 10,000,000 plays: [\d.]+ MiB\), more than the memory budget of 64.0 MiB/);
    expect((await validate({ RUBATO_MEMORY_BUDGET: "64MiB" }, "fs-vae-quick")).code).toBe(0);
  });

  it("reports an alias bomb and absurd sizes as spec errors with positions", async () => {
    const lines = ["name: bomb", "extends: fs-vae-quick", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++)
      lines.push(
        `a${i}: &a${i} [${Array(9)
          .fill(`*a${i - 1}`)
          .join(",")}]`,
      );
    const bomb = writeTemp("bomb.yaml", `${lines.join("\n")}\ndescription: *a8\n`);
    const absurd = writeTemp("absurd.yaml", "name: absurd\nextends: fs-vae-quick\nlatent: { size: 100000000 }\n");
    const r = await validate({}, bomb, absurd);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bomb}:4:`);
    expect(r.stderr).toContain("aliases (*name) expand to too much");
    expect(r.stderr).toContain(`${absurd}:3:11: latent.size: expected an integer from 1 to 1,024, got 100000000`);
  });
});
