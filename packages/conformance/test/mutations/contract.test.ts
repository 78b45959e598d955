import { driveTransition, MigState } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import { ConformanceViolation, runConformanceGroup } from "../../src/index.js";
import { toyOptions } from "../fixtures/toy-options.js";
import { createToyPlugin } from "../fixtures/toy-plugin.js";
import { mutatePlugin } from "../fixtures/wrap.js";

const toyPlugin = createToyPlugin();

// Bug: a P2P device that takes RUNNING → STOP in one request, which is not a direct arc
// for its flag set (the kernel path is RUNNING → RUNNING_P2P → STOP).
const silentArc = mutatePlugin(toyPlugin, (real) => ({
  setState: async (next: MigState) => {
    if (real.getState() === MigState.RUNNING && next === MigState.STOP) {
      await driveTransition(real, MigState.STOP);
      return undefined;
    }
    return real.setState(next);
  },
}));

describe("contract group catches arcs that should be refused", () => {
  it("fails for a driver that silently takes RUNNING → STOP despite declaring P2P", async () => {
    const run = runConformanceGroup("contract", silentArc, toyOptions, { only: /every other/ });
    await expect(run).rejects.toBeInstanceOf(ConformanceViolation);
    await expect(run).rejects.toThrow(/non-direct request RUNNING → STOP .*succeeded/);
  });

  it("passes for the correct toy", async () => {
    await expect(runConformanceGroup("contract", toyPlugin, toyOptions)).resolves.toBeDefined();
  });
});
