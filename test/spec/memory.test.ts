import {
  applyOverrides,
  checkMemory,
  estimateMemory,
  listShippedSpecs,
  loadSpec,
  memoryBudget,
  bytesPerPlay,
  type ModelSpec,
} from "../../src/spec";
import { SHIPPED_MODELS_DIR } from "../../src/spec/load";
import { modelFor } from "../../src/model/registry";
import { okSpec } from "./helpers";

const GiB = 2 ** 30;
const quick = () => okSpec(loadSpec("fs-vae-quick")).spec;
const withOverrides = (spec: ModelSpec, overrides: unknown) => {
  const r = applyOverrides(spec, overrides);
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join("; "));
  return r.spec;
};

describe("memory estimate", () => {
  it("counts the parameters the compiled graph has, for every shipped spec and the variants", () => {
    const specs = listShippedSpecs(SHIPPED_MODELS_DIR).map((s) => okSpec(s.result).spec);
    const variants = [
      { encoders: { fast: { type: "mean", layers: 3, units: 20 } } },
      { encoders: { fast: { type: "rnn" } }, latent: { combine: "sum" } },
      { loss: { reconstruction: "gaussian_learned" }, decoder: { skip: false } },
      { features: { slow: { enabled: false } }, latent: { probabilistic: false, free_bits: 0, kl_warmup_steps: 0 }, loss: { beta: 0 } },
      { features: { fast: { enabled: false } }, decoder: { skip: false } },
      {
        type: "jodie",
        features: { fast: { per_play: ["time_since_last", "track_embedding"] }, slow: { aggregates: ["hours_since_last"] } },
      },
      {
        type: "jodie",
        features: {
          fast: { per_play: ["track_embedding", "time_since_last"] },
          slow: { aggregates: ["plays", "hours_since_last"], daypart_shares: true },
        },
        jodie: { units: 20, static_units: 8 },
      },
      { type: "latent-cross", features: { fast: { per_play: ["daypart", "track_embedding"] }, slow: { enabled: false } } },
      { type: "latent-cross", latent_cross: { cell: "rnn", layers: 3, units: 20, head: { layers: 0 } } },
      { type: "vae-cf", vae_cf: { layers: 3, units: 20 }, loss: { reconstruction: "gaussian_learned" } },
      { type: "vae-cf", latent: { probabilistic: false, free_bits: 0, kl_warmup_steps: 0 }, loss: { beta: 0 } },
    ].map((o) => withOverrides(quick(), o));
    for (const spec of [...specs, ...variants]) {
      const expected = modelFor(spec.type).summary(spec, 64)?.params ?? 0;
      expect({ name: spec.name, params: estimateMemory(spec, { embeddingDim: 64 }).params }).toEqual({ name: spec.name, params: expected });
    }
  });

  it("adds weights, gradients and Adam's two moments, a batch's activations, and the dataset at bytesPerPlay", () => {
    const spec = quick();
    const e = estimateMemory(spec, { embeddingDim: 80, events: 300_000 });
    expect(e.parameterBytes).toBe(e.params * 4 * 4);
    expect(estimateMemory(withOverrides(spec, { training: { optimizer: "sgd" } }), { embeddingDim: 80 }).parameterBytes).toBe(
      e.params * 4 * 2,
    );
    expect(e.datasetBytes).toBe(300_000 * bytesPerPlay(6));
    // Each data-parallel helper adds a replica, its gradients and their shared slot.
    expect(estimateMemory(withOverrides(spec, { training: { threads: 3 } }), { embeddingDim: 80 }).parameterBytes).toBe(
      e.params * 4 * (4 + 3 * 2),
    );
    expect(bytesPerPlay(6)).toBe(13 + 17 + 4 * 6);
    expect(e.total).toBe(e.parameterBytes + e.activationBytes + e.datasetBytes);
    // Activations grow with the batch, the window and the units.
    const bigger = estimateMemory(withOverrides(spec, { training: { batch_size: 256 } }), { embeddingDim: 80 });
    expect(bigger.activationBytes).toBe(e.activationBytes * 2);
    expect(
      estimateMemory(withOverrides(spec, { features: { fast: { window: 50 } } }), { embeddingDim: 80 }).activationBytes,
    ).toBeGreaterThan(e.activationBytes * 5);
    // The dataset is not counted when the store's size is unknown; baselines have only the dataset.
    expect(estimateMemory(spec, { embeddingDim: 80 }).datasetBytes).toBe(0);
    const average = okSpec(loadSpec("average")).spec;
    expect(estimateMemory(average, { embeddingDim: 80, events: 1000 })).toMatchObject({
      params: 0,
      activationBytes: 0,
      total: 1000 * bytesPerPlay(6),
    });
  });

  it("lets every shipped spec train on a large store within a few GiB", () => {
    for (const { result } of listShippedSpecs(SHIPPED_MODELS_DIR)) {
      const spec = okSpec(result).spec;
      expect({
        name: spec.name,
        fits: checkMemory(spec, { embeddingDim: 80, events: 30_000_000 }, { bytes: 4 * GiB, source: "test" }),
      }).toEqual({
        name: spec.name,
        fits: null,
      });
    }
  });

  it("refuses sizes within their bounds that add up to more than the budget, naming the estimate, its parts and the budget", () => {
    const huge = withOverrides(quick(), {
      encoders: { fast: { units: 4096, layers: 8 } },
      training: { batch_size: 65536 },
      features: { fast: { window: 1000 } },
    });
    const error = checkMemory(huge, { embeddingDim: 80, events: 1000 }, { bytes: 8 * GiB, source: "RUBATO_MEMORY_BUDGET" });
    expect(error).toMatchObject({ path: "training.batch_size", line: 0 });
    expect(error!.message).toMatch(
      /^the run needs an estimated [\d.]+ TiB \(parameters, gradients and adam state [\d.]+ GiB for [\d,]+ parameters; activations of a batch of 65,536: [\d.]+ TiB; the dataset of 1,000 plays: [\d.]+ KiB\), more than the memory budget of 8.00 GiB \(RUBATO_MEMORY_BUDGET\): lower training.batch_size/,
    );
    // Wide layers with small batches: the parameters are what is too big.
    const wide = withOverrides(quick(), {
      encoders: { fast: { units: 4096, layers: 16 } },
      decoder: { units: 4096, layers: 16 },
      training: { batch_size: 1 },
    });
    expect(checkMemory(wide, { embeddingDim: 80 }, { bytes: 8 * GiB, source: "test" })).toMatchObject({ path: "encoders.fast.units" });
    // A big store alone.
    const data = checkMemory(quick(), { embeddingDim: 80, events: 1e9 }, { bytes: 8 * GiB, source: "test" });
    expect(data?.message).toMatch(/the dataset of 1,000,000,000 plays: [\d.]+ GiB\).*train on less data/);
  });

  it("reads its budget from RUBATO_MEMORY_BUDGET, else half the machine's memory", () => {
    expect(memoryBudget({}, 24 * GiB)).toEqual({
      bytes: 12 * GiB,
      source: "50% of this machine's 24.0 GiB; RUBATO_MEMORY_BUDGET sets another",
    });
    expect(memoryBudget({ RUBATO_MEMORY_BUDGET: "8GiB" }).bytes).toBe(8 * GiB);
    expect(memoryBudget({ RUBATO_MEMORY_BUDGET: "512 MB" }).bytes).toBe(512e6);
    expect(memoryBudget({ RUBATO_MEMORY_BUDGET: "1000000" }).bytes).toBe(1e6);
    for (const bad of ["lots", "-1GB", "0", "8 parsecs"])
      expect(() => memoryBudget({ RUBATO_MEMORY_BUDGET: bad })).toThrow(/RUBATO_MEMORY_BUDGET must be a size such as 8GiB/);
  });
});
