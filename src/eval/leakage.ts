/**
 * Whether the track embeddings an evaluation scores against saw its test
 * period. Co-occurrence embeddings learnt from test plays place each test
 * target next to the tracks played before it, which flatters every model's
 * test metrics (and the baselines', so comparisons hide it).
 */

/** What the check needs of how the embeddings were learnt (the store's embeddingProvenance). */
export interface EmbeddingsLearntFrom {
  /** embed-tracks' --until, or null: every play stored then. */
  until: Date | null;
  /** The newest play they were learnt from. */
  newestPlay: Date;
}

/**
 * A warning when the embeddings were learnt from plays at or after `testStart`
 * (the first instant of the test period), saying what to do; null when they
 * were not, or were not learnt from plays at all (`provenance` null: imported).
 */
export function embeddingLeakWarning(provenance: EmbeddingsLearntFrom | null, testStart: Date): string | null {
  if (!provenance || provenance.newestPlay.getTime() < testStart.getTime()) return null;
  const learnt = provenance.until ? `--until ${provenance.until.toISOString()}` : "no --until";
  const before = new Date(testStart.getTime() - 1).toISOString();
  return (
    `the track embeddings were learnt from plays up to ${provenance.newestPlay.toISOString()} (${learnt}), ` +
    `at or after the test period's start ${testStart.toISOString()}: test plays shaped the vectors the models are scored against, ` +
    `which flatters every model's test metrics. Learn them from earlier plays only, then evaluate again: ` +
    `rubato embed-tracks --overwrite --until ${before}`
  );
}
