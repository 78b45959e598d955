import { MigState } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import { runConformanceGroup } from "../../src/index.js";
import { toyOptions } from "../fixtures/toy-options.js";
import { createToyPlugin } from "../fixtures/toy-plugin.js";
import { mutatePlugin } from "../fixtures/wrap.js";

const toyPlugin = createToyPlugin();

const STOPPED: readonly number[] = [MigState.STOP, MigState.STOP_COPY, MigState.RESUMING];

// Bug: the activity tick forgets the stop gate and DMAs a status word while stopped —
// invisible to the plugin's own bookkeeping, visible on the host's DmaPort.
const dmaWhileStopped = mutatePlugin(toyPlugin, (real, ctx) => ({
  tick: () => {
    if (STOPPED.includes(real.getState())) ctx.dma.write(0x2000, Uint8Array.of(1, 2, 3, 4));
    else real.tick?.();
  },
}));

describe("quiescence group catches devices that act while stopped", () => {
  it("fails for a device that DMAs in STOP", async () => {
    await expect(
      runConformanceGroup("quiescence", dmaWhileStopped, toyOptions, { only: /source is silent/ }),
    ).rejects.toThrow(/the stopped device acted: DMA write iova=0x2000/);
  });

  it("passes for the correct toy", async () => {
    await expect(runConformanceGroup("quiescence", toyPlugin, toyOptions)).resolves.toBeDefined();
  });
});
