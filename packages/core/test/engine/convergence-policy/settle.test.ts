import { describe, expect, it } from "vitest";
import { FITS, policy } from "./policy-fixtures.js";

/**
 * A rest that fits (10 MB: 100 ms at 100 MB/s) from a guest dirtying 5 MB/s: the next pass
 * would take 100 ms and leave about 0.5 MB, a twentieth of the rest.
 */
const SHRINKS = { ...FITS, dirtyRate: 5e6 };

describe("ConvergencePolicy: settling passes", () => {
  it("takes another pass when the rest fits but the pass would take a quarter off it, reporting it as settling", () => {
    const p = policy();
    expect(p.decide(SHRINKS)).toEqual({
      action: "iterate",
      expectedDowntimeMs: 110,
      settling: true,
    });
    expect(p.settlePasses).toBe(1);
  });

  it("stops after settlePasses passes and switches over", () => {
    const p = policy({ settlePasses: 2 });
    expect(p.decide(SHRINKS).action).toBe("iterate");
    expect(p.decide(SHRINKS).action).toBe("iterate");
    expect(p.decide(SHRINKS)).toEqual({ action: "switchover", expectedDowntimeMs: 110 });
  });

  it("switches over at the first pass that fits with settlePasses 0, as QEMU does", () => {
    expect(policy({ settlePasses: 0 }).decide(SHRINKS).action).toBe("switchover");
  });

  it("switches over when the pass would leave more than three quarters of the rest dirty", () => {
    // 100 ms for the next pass at 80 MB/s of dirtying: 8 MB of the 10 MB again.
    expect(policy().decide({ ...FITS, dirtyRate: 80e6 }).action).toBe("switchover");
    // 75 MB/s: exactly three quarters, still worth the pass.
    expect(policy().decide({ ...FITS, dirtyRate: 75e6 }).action).toBe("iterate");
    // 60 MB/s: 6 MB of the 10 MB, a pass a half would have refused.
    expect(policy().decide({ ...FITS, dirtyRate: 60e6 }).action).toBe("iterate");
  });

  it("switches over when what is dirty moves in under a millisecond", () => {
    const d = policy().decide({ ...SHRINKS, dirtyRamBytes: 0.09e6, dirtyRate: 0 });
    expect(d.action).toBe("switchover");
    expect(policy().decide({ ...SHRINKS, dirtyRamBytes: 0.2e6, dirtyRate: 0 }).action).toBe(
      "iterate",
    );
  });

  it("never settles before the target acked the devices' initial data", () => {
    expect(policy().decide({ ...SHRINKS, switchoverAcked: false }).action).toBe("await-ack");
  });

  it("does not spend the iteration budget on settling passes", () => {
    const p = policy({ maxIterations: 1, settlePasses: 3 });
    for (let i = 0; i < 3; i++) expect(p.decide(SHRINKS).action).toBe("iterate");
    expect(p.countedIterations).toBe(0);
    expect(p.decide(SHRINKS).action).toBe("switchover");
  });

  it("settles on the RAM only: device stop-copy bytes do not shrink with another pass", () => {
    // 20 MB of device state fits with the RAM (310 ms limit) but the RAM alone is 10 MB.
    const d = policy({ downtimeLimitMs: 310 }).decide({ ...SHRINKS, deviceStopCopyBytes: 20e6 });
    expect(d).toEqual({ action: "iterate", expectedDowntimeMs: 300, settling: true });
  });
});
