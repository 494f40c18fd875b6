import { DAYPARTS, PER_PLAY_SIGNALS, daypartIndex, perPlayWidth } from "../../src/spec/vocabulary";

describe("feature vocabulary", () => {
  it("splits the day into night, morning, afternoon, evening at 6, 12, 18", () => {
    expect(DAYPARTS.map((d) => d.name)).toEqual(["night", "morning", "afternoon", "evening"]);
    expect([0, 5.99, 6, 11, 12, 17, 18, 23.5].map(daypartIndex)).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
    expect(() => daypartIndex(24)).toThrow(RangeError);
    expect(() => daypartIndex(-1)).toThrow(RangeError);
  });

  it("gives each per-play signal its width", () => {
    expect(PER_PLAY_SIGNALS.map((s) => perPlayWidth(s, 80))).toEqual([80, 1, 1, 4, 1, 1, 1]);
    expect(perPlayWidth("track_embedding", 32)).toBe(32);
  });
});
