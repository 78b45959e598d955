import { describe, expect, it } from "vitest";
import { ConvergencePolicy, formatBytes, formatRate } from "../../../src/index.js";

describe("ConvergencePolicy: expected downtime", () => {
  it("is pending bytes over bandwidth, in ms", () => {
    expect(ConvergencePolicy.expectedDowntimeMs(50e6, 100e6)).toBe(500);
  });

  it("is infinite when nothing was measured", () => {
    expect(ConvergencePolicy.expectedDowntimeMs(1, 0)).toBe(Number.POSITIVE_INFINITY);
  });

  it("formats sizes and rates in decimal units, as link speeds are quoted", () => {
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(1_230_000)).toBe("1.23 MB");
    expect(formatRate(25e6)).toBe("25 MB/s");
    expect(formatRate(2.5e6)).toBe("2.50 MB/s");
    expect(formatBytes(Number.POSITIVE_INFINITY)).toBe("∞ B");
  });
});
