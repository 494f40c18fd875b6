import { embeddingLeakWarning } from "../../src/eval";

describe("embeddingLeakWarning", () => {
  const testStart = new Date("2014-04-23T00:00:00Z");

  it("warns when the embeddings saw a play at or after the test period's start, and says what to run", () => {
    const warning = embeddingLeakWarning({ until: null, newestPlay: new Date("2014-04-25T21:03:00Z") }, testStart);
    expect(warning).toBe(
      "the track embeddings were learnt from plays up to 2014-04-25T21:03:00.000Z (no --until), " +
        "at or after the test period's start 2014-04-23T00:00:00.000Z: test plays shaped the vectors the models are scored against, " +
        "which flatters every model's test metrics. Learn them from earlier plays only, then evaluate again: " +
        "rubato embed-tracks --overwrite --until 2014-04-22T23:59:59.999Z",
    );
    // A play exactly at the start is a test play; an --until too late still leaks.
    expect(embeddingLeakWarning({ until: null, newestPlay: testStart }, testStart)).not.toBeNull();
    const late = embeddingLeakWarning({ until: new Date("2014-04-24T00:00:00Z"), newestPlay: new Date("2014-04-23T10:00:00Z") }, testStart);
    expect(late).toContain("(--until 2014-04-24T00:00:00.000Z)");
  });

  it("is silent when every play they were learnt from precedes the test period, or they were not learnt from plays", () => {
    expect(
      embeddingLeakWarning({ until: new Date("2014-04-22T23:59:59.999Z"), newestPlay: new Date("2014-04-22T23:59:59.999Z") }, testStart),
    ).toBeNull();
    // No --until, but the data simply ends before the test period (another store's plays).
    expect(embeddingLeakWarning({ until: null, newestPlay: new Date("2014-04-01T00:00:00Z") }, testStart)).toBeNull();
    expect(embeddingLeakWarning(null, testStart)).toBeNull();
  });
});
