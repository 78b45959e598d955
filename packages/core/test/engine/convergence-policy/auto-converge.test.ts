import { describe, expect, it } from "vitest";
import { policy, TOO_MUCH } from "./policy-fixtures.js";

const STEPS = { autoConverge: true, throttleInitial: 20, throttleIncrement: 10, throttleMax: 45 };

describe("ConvergencePolicy: auto-converge", () => {
  it("throttles after two passes in a row that made no progress", () => {
    const p = policy(STEPS);
    // The first pass sets the baseline; the next two make no progress against it.
    expect(p.decide(TOO_MUCH)).not.toHaveProperty("throttle");
    expect(p.decide(TOO_MUCH)).not.toHaveProperty("throttle");
    expect(p.decide(TOO_MUCH)).toMatchObject({ action: "iterate", throttle: 20 });
  });

  it("raises the throttle by the increment at each further stall, up to the maximum", () => {
    const p = policy(STEPS);
    const throttles: number[] = [];
    for (let i = 0; i < 12; i++) {
      const d = p.decide(TOO_MUCH);
      if (d.action === "iterate" && d.throttle !== undefined) throttles.push(d.throttle);
    }
    expect(throttles).toEqual([20, 30, 40, 45, 45]);
  });

  it("does not throttle while pending bytes keep shrinking", () => {
    const p = policy(STEPS);
    for (let i = 0; i < 8; i++) p.decide({ ...TOO_MUCH, dirtyRamBytes: 1e9 / 2 ** i });
    expect(p.throttle).toBe(0);
  });

  it("never throttles without auto-converge", () => {
    const p = policy();
    for (let i = 0; i < 10; i++) p.decide(TOO_MUCH);
    expect(p.throttle).toBe(0);
  });

  it("mentions the throttle it reached when it gives up", () => {
    const p = policy({ ...STEPS, maxIterations: 4 });
    p.decide(TOO_MUCH);
    p.decide(TOO_MUCH);
    p.decide(TOO_MUCH);
    expect(p.decide(TOO_MUCH)).toMatchObject({
      reason: expect.stringMatching(/throttle reached 20%$/),
    });
  });
});
