import { describe, expect, it } from "vitest";
import {
  ARC_STEPS,
  arcPlan,
  directArcs,
  isStateSupported,
  LEGAL_FLAG_SETS,
  MigFlags,
  MigState,
  migFlagsName,
} from "../../src/index.js";

describe("ARC_STEPS", () => {
  for (const flags of LEGAL_FLAG_SETS) {
    it(`has exactly one plan for each direct arc of ${migFlagsName(flags)}`, () => {
      const planned = ARC_STEPS.filter(
        (a) =>
          isStateSupported(flags, a.from) &&
          isStateSupported(flags, a.to) &&
          arcPlan(flags, a.from, a.to) === a,
      ).map((a) => `${a.from}->${a.to}`);
      const direct = directArcs(flags).map(([from, to]) => `${from}->${to}`);
      expect(new Set(planned)).toEqual(new Set(direct));
      expect(planned).toHaveLength(direct.length);
    });
  }

  it("only the arcs the uAPI says open a stream have a step that opens one", () => {
    const opening = ARC_STEPS.filter((a) =>
      a.steps.some(
        (s) =>
          s.session === "open-saving" ||
          s.session === "open-precopy" ||
          s.session === "open-resuming",
      ),
    ).map((a) => [a.from, a.to]);
    expect(opening).toEqual(
      expect.arrayContaining([
        [MigState.STOP, MigState.STOP_COPY],
        [MigState.STOP, MigState.RESUMING],
        [MigState.RUNNING, MigState.PRE_COPY],
        [MigState.RUNNING_P2P, MigState.PRE_COPY_P2P],
      ]),
    );
    expect(opening).toHaveLength(4);
  });

  it("every step whose hook can be followed by a failing step says how to undo it, or is the last", () => {
    for (const arc of ARC_STEPS) {
      arc.steps.slice(0, -1).forEach((step) => {
        if (
          step.hook === "_quiesceP2P" ||
          step.hook === "_stopDevice" ||
          step.hook === "_startDevice"
        ) {
          expect(step.undo, `${arc.from}->${arc.to} ${step.hook}`).toBeDefined();
        }
      });
    }
  });

  it("a device without P2P quiesces before stopping on PRE_COPY -> STOP_COPY", () => {
    const plan = arcPlan(
      MigFlags.STOP_COPY | MigFlags.PRE_COPY,
      MigState.PRE_COPY,
      MigState.STOP_COPY,
    );
    expect(plan?.steps.map((s) => s.hook)).toEqual(["_quiesceP2P", "_stopDevice", "_saveState"]);
  });
});
