/**
 * rubato eval says when the catalogue's embeddings were learnt from plays
 * inside its test period (embed-tracks without --until), and stops saying it
 * once they are learnt from earlier plays only.
 */
import { evaluateModels } from "../../src/jobs/evaluation";
import { SHIPPED_MODELS_DIR } from "../../src/spec/load";
import { loadDemoWorld } from "../../src/data/demo-data";
import { embedTracks } from "../../src/data/track-embeddings";
import type { Store } from "../../src/store/store";
import { openTestStore, backendName } from "../helpers/store";

describe(`rubato eval: embeddings learnt from the test period (${backendName})`, () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
    await loadDemoWorld(store, { users: 40, tracks: 120, days: 7, seed: 5 });
    // Users who play rarely have their test plays early in the week; keep those who play through it.
    await store.sql.query(
      `DELETE FROM listening_event WHERE user_id IN
         (SELECT user_id FROM listening_event GROUP BY user_id HAVING count(*) < 40 OR min(played_at) > (SELECT min(played_at) + interval '1 day' FROM listening_event))`,
    );
  });
  afterAll(() => store.close());

  it("warns with the --until to use, and not once the embeddings end before the test period", async () => {
    const evaluate = () =>
      evaluateModels(store, { models: ["average"], seeds: [1], fresh: true, modelsDir: SHIPPED_MODELS_DIR, pollMs: 50 });
    // Imported embeddings (the demo world's own): nothing learnt from plays, no warning.
    const imported = await evaluate();
    expect(imported.warnings.join("\n")).not.toMatch(/track embeddings were learnt/);
    const from = imported.models[0].runs[0].test!.from!;
    expect(Number.isFinite(from)).toBe(true);

    await embedTracks(store, { dim: 8, overwrite: true, checks: false });
    const leaky = await evaluate();
    const warning = leaky.warnings.find((w) => /track embeddings were learnt/.test(w));
    expect(warning).toBeDefined();
    expect(warning).toContain(`rubato embed-tracks --overwrite --until ${new Date(from - 1).toISOString()}`);

    // Each user's test split is their last plays: the first three days are before all of them here.
    const [{ first }] = await store.sql.query<{ first: Date }>("SELECT min(played_at) AS first FROM listening_event");
    const until = new Date(new Date(first).getTime() + 3 * 86_400_000);
    await embedTracks(store, { dim: 8, overwrite: true, checks: false, until });
    const clean = await evaluate();
    expect(clean.models[0].runs[0].test!.from!).toBeGreaterThan(until.getTime());
    expect(clean.warnings.join("\n")).not.toMatch(/track embeddings were learnt/);
  }, 120_000);
});
