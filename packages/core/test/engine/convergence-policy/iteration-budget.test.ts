import { describe, expect, it } from "vitest";
import { FITS, policy, TOO_MUCH } from "./policy-fixtures.js";

describe("ConvergencePolicy: iteration budget", () => {
  it("gives up after maxIterations passes that did not converge", () => {
    const p = policy({ maxIterations: 3 });
    expect(p.decide(TOO_MUCH).action).toBe("iterate");
    expect(p.decide(TOO_MUCH).action).toBe("iterate");
    expect(p.decide(TOO_MUCH).action).toBe("abort");
  });

  it("names the dirty rate, the bandwidth and the downtime the rest needs when it gives up", () => {
    const d = policy({ maxIterations: 1 }).decide(TOO_MUCH);
    expect(d).toMatchObject({
      action: "abort",
      reason: expect.stringMatching(
        /did not converge after 1 iterations: dirty rate 200 MB\/s against bandwidth 100 MB\/s, 1\.00 GB pending needs 10010 ms of downtime \(limit 300 ms\); consider --auto-converge/,
      ),
    });
  });

  it("gives up naming the initial precopy data when that is what never finished", () => {
    const d = policy({ maxIterations: 1 }).decide({ ...FITS, initialPrecopyDone: false });
    expect(d).toMatchObject({
      action: "abort",
      reason: "devices still had initial precopy data to send after 1 iterations",
    });
  });

  it("counts each pass that did not converge once", () => {
    const p = policy();
    p.decide(TOO_MUCH);
    p.decide(TOO_MUCH);
    expect(p.countedIterations).toBe(2);
  });
});
