import { describe, expect, it } from "vitest";
import { BANDWIDTH, policy, TOO_MUCH } from "./policy-fixtures.js";

const STEPS = { autoConverge: true, throttleInitial: 20, throttleIncrement: 10, throttleMax: 45 };

describe("ConvergencePolicy: auto-converge", () => {
  it("throttles at the second pass whose guest dirtied more than half of what it sent", () => {
    const p = policy(STEPS);
    // TOO_MUCH: the guest dirties 200 MB/s against 100 MB/s sent.
    expect(p.decide(TOO_MUCH)).not.toHaveProperty("throttle");
    expect(p.decide(TOO_MUCH)).toMatchObject({ action: "iterate", throttle: 20 });
  });

  it("raises the throttle by the increment at every second such pass, up to the maximum", () => {
    const p = policy(STEPS);
    const throttles: number[] = [];
    for (let i = 0; i < 12; i++) {
      const d = p.decide(TOO_MUCH);
      if (d.action === "iterate" && d.throttle !== undefined) throttles.push(d.throttle);
    }
    expect(throttles).toEqual([20, 30, 40, 45, 45, 45]);
  });

  it("throttles a guest outrunning the link whose pending bytes wobble from pass to pass", () => {
    // The bench's dirty-rate VM at twice the link's rate: the rest rises and falls by more
    // than 5 % between passes, and a rule that wanted two passes in a row without progress
    // never throttled it.
    const p = policy(STEPS);
    const throttles: number[] = [];
    for (let i = 0; i < 8; i++) {
      const d = p.decide({ ...TOO_MUCH, dirtyRamBytes: i % 2 === 0 ? 1e9 : 0.9e9 });
      if (d.action === "iterate" && d.throttle !== undefined) throttles.push(d.throttle);
    }
    expect(throttles).toEqual([20, 30, 40, 45]);
  });

  it("counts dirty-rate-high passes that are not in a row, as QEMU's dirty_rate_high_cnt does", () => {
    const p = policy(STEPS);
    const calm = { ...TOO_MUCH, dirtyRate: BANDWIDTH / 4 };
    expect(p.decide(TOO_MUCH)).not.toHaveProperty("throttle");
    expect(p.decide(calm)).not.toHaveProperty("throttle");
    expect(p.decide(TOO_MUCH)).toMatchObject({ throttle: 20 });
  });

  it("does not throttle while the guest dirties at most the trigger share of what a pass sends", () => {
    const half = policy(STEPS);
    for (let i = 0; i < 8; i++) half.decide({ ...TOO_MUCH, dirtyRate: BANDWIDTH / 2 });
    expect(half.throttle).toBe(0);
    const strict = policy({ ...STEPS, throttleTriggerThreshold: 40 });
    for (let i = 0; i < 2; i++) strict.decide({ ...TOO_MUCH, dirtyRate: BANDWIDTH / 2 });
    expect(strict.throttle).toBe(20);
  });

  it("does not throttle when the pages the devices report alone take longer than the limit", () => {
    // 40 MB reported by the devices at 100 MB/s: 400 ms even with the vCPUs stopped.
    const p = policy(STEPS);
    for (let i = 0; i < 8; i++) {
      expect(p.decide({ ...TOO_MUCH, deviceDirtyRamBytes: 40e6 })).not.toHaveProperty("throttle");
    }
    expect(p.throttle).toBe(0);
  });

  it("does not throttle when the devices' precopy and stop-copy bytes alone exceed the limit", () => {
    const p = policy(STEPS);
    for (let i = 0; i < 8; i++) p.decide({ ...TOO_MUCH, devicePrecopyBytes: 35e6 });
    expect(p.throttle).toBe(0);
  });

  it("throttles as before when the devices' part fits and the vCPUs' does not", () => {
    // 19 MB reported by the devices + 1 MB stop-copy: 200 ms, within the limit.
    const p = policy(STEPS);
    const throttles: number[] = [];
    for (let i = 0; i < 6; i++) {
      const d = p.decide({ ...TOO_MUCH, deviceDirtyRamBytes: 19e6 });
      if (d.action === "iterate" && d.throttle !== undefined) throttles.push(d.throttle);
    }
    expect(throttles).toEqual([20, 30, 40]);
  });

  it("says why it did not throttle when it gives up on pages the devices report", () => {
    const input = { ...TOO_MUCH, deviceDirtyRamBytes: 40e6 };
    const auto = policy({ ...STEPS, maxIterations: 3 });
    const d = [1, 2, 3].map(() => auto.decide(input)).at(-1);
    expect(d?.action).toBe("abort");
    if (d?.action === "abort") {
      expect(d.reason).toMatch(
        /the devices reported 40 MB of the RAM dirty, which no vCPU throttle reduces \(throttle stayed at 0%\)$/,
      );
    }
    const plain = policy({ maxIterations: 1 }).decide(input);
    if (plain.action !== "abort") throw new Error(`expected abort, got ${plain.action}`);
    expect(plain.reason).not.toMatch(/auto-converge/);
    expect(plain.reason).toMatch(/which no vCPU throttle reduces$/);
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
