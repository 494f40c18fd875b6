/**
 * Checkpoints record the tfjs backend that trained them, and a run does not
 * resume on another backend (their numerics differ) unless forced with
 * RUBATO_RESUME_ANY_BACKEND=1.
 */
import { initBackend } from "../../src/model/backend";
import { disposeFsVae } from "../../src/model/fsvae";
import { checkResumeBackend, deserializeCheckpoint, serializeCheckpoint } from "../../src/train/checkpoint";
import { trainModel } from "../../src/train/trainer";
import { tinyData, tinySpec } from "./helpers";

const quiet = { logger: () => undefined };
const saved = process.env.RUBATO_RESUME_ANY_BACKEND;
afterEach(() => {
  if (saved === undefined) delete process.env.RUBATO_RESUME_ANY_BACKEND;
  else process.env.RUBATO_RESUME_ANY_BACKEND = saved;
});
beforeEach(() => {
  delete process.env.RUBATO_RESUME_ANY_BACKEND;
});

describe("checkResumeBackend", () => {
  it("accepts the same backend, and a checkpoint that does not say (made before backends were recorded)", () => {
    expect(() => checkResumeBackend("wasm", "wasm")).not.toThrow();
    expect(() => checkResumeBackend(undefined, "cpu")).not.toThrow();
  });

  it("refuses another backend, saying why and how to go on", () => {
    expect(() => checkResumeBackend("node", "wasm")).toThrow(
      /made on the node tfjs backend and this process trains on wasm; their numerics differ.*RUBATO_TF_BACKEND=node.*RUBATO_RESUME_ANY_BACKEND=1/,
    );
  });

  it("resumes anyway when forced (option or RUBATO_RESUME_ANY_BACKEND=1), and logs it", () => {
    const lines: string[] = [];
    checkResumeBackend("wasm", "cpu", { force: true, log: (m) => lines.push(m) });
    process.env.RUBATO_RESUME_ANY_BACKEND = "1";
    checkResumeBackend("wasm", "cpu", { log: (m) => lines.push(m) });
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).toMatch(/^resuming on another backend \(RUBATO_RESUME_ANY_BACKEND\): .*numerics differ/);
    // An explicit option wins over the environment.
    expect(() => checkResumeBackend("wasm", "cpu", { force: false })).toThrow(/numerics differ/);
  });
});

describe("a checkpoint's backend", () => {
  it("survives serialisation; older checkpoints have none", () => {
    const base = {
      loop: { step: 3 } as never,
      weights: new Map([["w", { shape: [2], values: new Float32Array([1, 2]) }]]),
      best: null,
      optimizer: { kind: "adam" as const, learningRate: 0.01, step: 3, slots: new Map() },
    };
    expect(deserializeCheckpoint(serializeCheckpoint({ ...base, backend: "wasm" })).backend).toBe("wasm");
    expect(deserializeCheckpoint(serializeCheckpoint(base)).backend).toBeUndefined();
  });

  it("is recorded by trainModel, which refuses to resume on another backend unless forced", async () => {
    const spec = tinySpec({ epochs: 1 });
    const { dataset, catalogue } = await tinyData(spec);
    await initBackend("wasm", quiet);
    const first = await trainModel(spec, dataset, { catalogue, ...quiet });
    disposeFsVae(first.model);
    expect(deserializeCheckpoint(first.checkpoint).backend).toBe("wasm");

    await initBackend("cpu", quiet);
    await expect(trainModel(spec, dataset, { catalogue, resume: first.checkpoint, ...quiet })).rejects.toThrow(
      /made on the wasm tfjs backend and this process trains on cpu; their numerics differ/,
    );

    process.env.RUBATO_RESUME_ANY_BACKEND = "1";
    const lines: string[] = [];
    const resumed = await trainModel(spec, dataset, { catalogue, resume: first.checkpoint, logger: (m) => lines.push(m) });
    disposeFsVae(resumed.model);
    expect(resumed.steps).toBe(first.steps);
    expect(lines.join("\n")).toMatch(/resuming on another backend/);
    expect(deserializeCheckpoint(resumed.checkpoint).backend).toBe("cpu");
  });
});
