import { describe, expect, it } from "vitest";
import { FITS, policy, TOO_MUCH } from "./policy-fixtures.js";

const UNACKED = { ...FITS, switchoverAcked: false };

describe("ConvergencePolicy: switchover-ack", () => {
  it("waits for the ack when only the ack is missing", () => {
    expect(policy().decide(UNACKED)).toEqual({ action: "await-ack", expectedDowntimeMs: 110 });
  });

  it("spends no iteration while it waits for the ack", () => {
    const p = policy({ maxIterations: 2 });
    for (let i = 0; i < 100; i++) p.decide(UNACKED);
    expect(p.countedIterations).toBe(0);
  });

  it("never gives up because the ack is late, however many passes it took", () => {
    const p = policy({ maxIterations: 2 });
    p.decide(TOO_MUCH);
    for (let i = 0; i < 50; i++) expect(p.decide(UNACKED).action).toBe("await-ack");
  });

  it("switches over at the first pass after the ack arrived", () => {
    const p = policy({ maxIterations: 2 });
    p.decide(UNACKED);
    expect(p.decide(FITS).action).toBe("switchover");
  });

  it("does not throttle while it waits for the ack", () => {
    const p = policy({ autoConverge: true });
    for (let i = 0; i < 10; i++) p.decide(UNACKED);
    expect(p.throttle).toBe(0);
  });
});
