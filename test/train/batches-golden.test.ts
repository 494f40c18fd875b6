/**
 * The batches training sees, pinned: a digest of x_s, mask, x_n and y over an
 * epoch and the test rows of the tiny world for three specs. The dataset became compact (x_s and
 * y assembled per batch instead of stored); these digests were taken from the
 * materialised dataset before that change, so published figures cannot move.
 * A deliberate change to the features updates them, and says so in its commit.
 */
import { createHash } from "node:crypto";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { BatchBuilder, disposeBatch, epochOrder } from "../../src/train/batches";
import { shippedSpec, tinyData } from "./helpers";

const SPECS = {
  "fs-vae-quick": shippedSpec("fs-vae-quick"),
  "slow only": shippedSpec("fs-vae", { features: { fast: { enabled: false }, slow: { transform: "standardize", daypart_shares: true } } }),
  everything: shippedSpec("fs-vae-quick", {
    features: {
      fast: { window: 4, per_play: ["track_embedding", "skipped", "liked", "daypart", "restarted", "added_to_playlist"], shuffle: true },
      slow: { transform: "standardize", daypart_shares: true },
    },
  }),
};

const GOLDEN: Record<keyof typeof SPECS, string> = {
  "fs-vae-quick": "ecf4a8e7fea77923",
  "slow only": "95191260488067e7",
  everything: "0d61aecb3435e1d5",
};

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("training batches", () => {
  it.each(Object.keys(SPECS) as (keyof typeof SPECS)[])("are bit-identical to the materialised dataset's (%s)", async (name) => {
    const spec = SPECS[name];
    const { dataset } = await tinyData(spec);
    const hash = createHash("sha256");
    const builder = new BatchBuilder(dataset, 64);
    for (const rows of [epochOrder(dataset.rows.train, spec.training.seed, 1), dataset.rows.test]) {
      for (let from = 0; from < rows.length; from += 64) {
        const batch = builder.build(rows, from, Math.min(rows.length, from + 64));
        for (const t of [batch.input.x_s, batch.input.mask, batch.input.x_n, batch.y])
          if (t) hash.update(new Uint8Array((t.dataSync() as Float32Array).buffer.slice(0)));
        disposeBatch(batch);
      }
    }
    const digest = hash.digest("hex").slice(0, 16);
    console.log(`${name}: ${dataset.n} rows, digest ${digest}`);
    expect(digest).toBe(GOLDEN[name]);
  });
});
