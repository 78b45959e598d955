import { describe, expect, it } from "vitest";
import { FITS, policy, TOO_MUCH } from "./policy-fixtures.js";

describe("ConvergencePolicy: switchover", () => {
  it("switches over when the rest fits the downtime limit and the target acked", () => {
    expect(policy().decide(FITS)).toEqual({ action: "switchover", expectedDowntimeMs: 110 });
  });

  it("counts device precopy and stop-copy bytes in what must fit", () => {
    const d = policy().decide({ ...FITS, devicePrecopyBytes: 15e6, deviceStopCopyBytes: 10e6 });
    expect(d).toEqual({ action: "iterate", expectedDowntimeMs: 350 });
  });

  it("iterates while the rest does not fit", () => {
    expect(policy().decide(TOO_MUCH).action).toBe("iterate");
  });

  it("iterates while a device still has initial precopy data, even if the rest fits", () => {
    expect(policy().decide({ ...FITS, initialPrecopyDone: false }).action).toBe("iterate");
  });

  it("switches over at exactly the downtime limit", () => {
    const d = policy({ downtimeLimitMs: 110 }).decide(FITS);
    expect(d.action).toBe("switchover");
  });
});
