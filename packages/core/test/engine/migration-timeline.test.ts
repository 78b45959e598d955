import { describe, expect, it } from "vitest";
import { MigrationTimeline } from "../../src/index.js";
import { SteppingClock } from "../helpers/engine-fixtures.js";

describe("MigrationTimeline", () => {
  it("measures the interval between two marks on its clock", () => {
    const t = new MigrationTimeline(new SteppingClock(2_500_000n));
    t.mark("started");
    t.mark("paused");
    t.mark("resumed");
    expect(t.between("started", "resumed")).toBe(5);
    expect(t.between("paused", "resumed")).toBe(2.5);
  });

  it("refuses an interval whose mark was never recorded (EINVAL)", () => {
    const t = new MigrationTimeline(new SteppingClock(1n));
    t.mark("started");
    expect(() => t.between("started", "loaded")).toThrow(/no "loaded" mark/);
  });

  it("reports 0 ms elapsed before the migration started", () => {
    expect(new MigrationTimeline(new SteppingClock(1_000_000n)).elapsedMs()).toBe(0);
  });

  it("measures from any clock reading to now", () => {
    const t = new MigrationTimeline(new SteppingClock(1_000_000n));
    const t0 = t.now();
    expect(t.msSince(t0)).toBe(1);
  });
});
