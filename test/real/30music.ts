/**
 * The real-data walkthrough of docs/results.md on one 30Music slice (real
 * Last.fm sessions): import with --format sessions, embed-tracks, evaluate
 * the shipped fs-vae-quick against Average on the test split, serve.
 */
import { evaluateModels } from "../../src/jobs/evaluation";
import { Serving } from "../../src/serving";
import { SHIPPED_MODELS_DIR } from "../../src/spec/load";
import { importEvents } from "../../src/store/import/formats";
import { embedTracks } from "../../src/data/track-embeddings";
import type { Store } from "../../src/store/store";
import { openTestStore } from "../helpers/store";
import { sharedFile } from "../helpers/shared";

const MINUTES = 60_000;

export function describe30Music(slice: string): void {
  const relative = `30music-dev/${slice}`;
  const file = sharedFile(relative);
  // The model's quality does not depend on the backend: the server pass leaves this to the PGlite one.
  const skip = !file ? `${relative} is absent (the ../shared data sets are not on this machine)` : process.env.DATABASE_URL ? "the PostgreSQL pass (it runs on PGlite)" : null;
  if (skip) console.warn(`skipping the 30Music walkthrough on ${slice}: ${skip}`);
  (skip ? describe.skip : describe)(`30Music walkthrough: ${slice}`, () => {
    let store: Store;
    let serving: Serving | undefined;
    beforeAll(async () => {
      store = await openTestStore();
      await importEvents(store, file!, { format: "sessions" });
      await embedTracks(store, { checks: false });
    }, 5 * MINUTES);
    afterAll(async () => {
      await serving?.close();
      await store?.close();
    });

    it(
      "the shipped fs-vae-quick beats Average on L2 and HR@10, and similarTracks by user never answers a track without a usable embedding",
      async () => {
        const result = await evaluateModels(store, { models: ["fs-vae-quick", "average"], seeds: [1], modelsDir: SHIPPED_MODELS_DIR, pollMs: 200 });
        expect(result.failed).toBe(0);
        const [fsVae, average] = result.models.map((m) => m.runs[0].test!);
        console.log(`${slice}: fs-vae-quick L2 ${fsVae.l2.toFixed(3)} HR@10 ${fsVae.hr10.toFixed(3)}; average L2 ${average.l2.toFixed(3)} HR@10 ${average.hr10.toFixed(3)}`);
        expect(fsVae.l2).toBeLessThan(average.l2);
        expect(fsVae.hr10).toBeGreaterThan(average.hr10);

        const unusable = new Set(
          (
            await store.sql.query<{ external_id: string }>(
              "SELECT external_id FROM track WHERE embedding IS NULL OR NOT (0 <> ANY(embedding))",
            )
          ).map((r) => r.external_id),
        );
        expect(unusable.size).toBeGreaterThan(0); // tracks embed-tracks could not place
        serving = new Serving(store);
        const users = await store.sql.query<{ external_id: string }>("SELECT external_id FROM app_user ORDER BY id LIMIT 50");
        for (const { external_id } of users) {
          const { neighbours } = await serving.similarTracks({ userId: external_id, k: 50 });
          expect(neighbours).toHaveLength(50);
          for (const n of neighbours) expect(unusable.has(n.trackId)).toBe(false);
        }
      },
      20 * MINUTES,
    );
  });
}
