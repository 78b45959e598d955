import { describe, expect, it } from "vitest";
import { SwitchoverCosts } from "../../../src/engine/switchover-costs.js";
import { BANDWIDTH, FITS, policy, TOO_MUCH } from "./policy-fixtures.js";

describe("ConvergencePolicy: the switchover's measured fixed costs", () => {
  it("are added to the transfer time, and a rest that fits only without them does not switch over", () => {
    // FITS: 11 MB at 100 MB/s = 110 ms; with 150 ms of fixed costs 260 ms still fits 300 ms.
    const ok = policy().decide({ ...FITS, fixedCostMs: 150 });
    expect(ok).toMatchObject({ action: "switchover" });
    expect(ok.expectedDowntimeMs).toBeCloseTo(260);
    // 200 ms of fixed costs: 310 ms > 300 ms, so iterate.
    const over = policy().decide({ ...FITS, fixedCostMs: 200 });
    expect(over).toMatchObject({ action: "iterate" });
    expect(over.expectedDowntimeMs).toBeCloseTo(310);
    expect(FITS.bandwidth).toBe(BANDWIDTH);
  });

  it("are named in the reason when the budget runs out", () => {
    const p = policy({ maxIterations: 1 });
    const d = p.decide({ ...TOO_MUCH, fixedCostMs: 42 });
    expect(d.action).toBe("abort");
    if (d.action === "abort")
      expect(d.reason).toMatch(/42 ms of it measured fixed switchover costs/);
  });
});

describe("SwitchoverCosts", () => {
  it("predicts the final sync and both digests", () => {
    const c = new SwitchoverCosts();
    expect(c.fixedMs).toBe(0);
    expect(c.digestMeasured).toBe(false);
    c.sync(3);
    c.digest(1.5);
    expect(c.fixedMs).toBeCloseTo(3 + 2 * 1.5);
    expect(c.digestMeasured).toBe(true);
    // A later sync replaces the earlier one; nonsense readings count as nothing.
    c.sync(1);
    expect(c.fixedMs).toBeCloseTo(1 + 3);
    c.sync(Number.NaN);
    c.digest(-5);
    expect(c.fixedMs).toBe(0);
  });
});
