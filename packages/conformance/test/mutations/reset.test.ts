import { MigFlags } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import { ConformanceViolation, runConformanceGroup } from "../../src/index.js";
import { toyOptions } from "../fixtures/toy-options.js";
import { createToyPlugin } from "../fixtures/toy-plugin.js";

const only = { only: /reset after the device ran/ };

// Bug: reset closes the session and returns to RUNNING, but keeps the registers and ring
// the guest (or an earlier load) left behind, so a rebooted guest finds a used device.
describe("contract group catches a reset that keeps the device's old state", () => {
  it.each([
    ["with PRE_COPY", MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY],
    ["stop-copy only", MigFlags.STOP_COPY],
  ])("fails for a toy whose reset keeps its state (%s)", async (_, flags) => {
    const keeps = createToyPlugin({ flags, bugs: ["reset-keeps-state"] });
    const run = runConformanceGroup("contract", keeps, toyOptions, only);
    await expect(run).rejects.toBeInstanceOf(ConformanceViolation);
    await expect(run).rejects.toThrow(/differs from a new one \(reset kept state\): \$\.regs/);
  });

  it("the image comparison catches it too when the plugin gives no describeState", async () => {
    const keeps = createToyPlugin({ bugs: ["reset-keeps-state"] });
    const { describeState: _, ...imageOnly } = toyOptions;
    await expect(runConformanceGroup("contract", keeps, imageOnly, only)).rejects.toThrow(
      /reset kept state\): \$\.image/,
    );
  });

  it("passes for the correct toy, with and without describeState", async () => {
    const { describeState: _, ...imageOnly } = toyOptions;
    await expect(
      runConformanceGroup("contract", createToyPlugin(), toyOptions, only),
    ).resolves.toBeDefined();
    await expect(
      runConformanceGroup("contract", createToyPlugin(), imageOnly, only),
    ).resolves.toBeDefined();
  });
});
