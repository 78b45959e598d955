import { MigState, type VendorPlugin } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import { runConformanceGroup } from "../../src/index.js";
import { toyOptions } from "../fixtures/toy-options.js";
import { createToyPlugin, ToyDriver } from "../fixtures/toy-plugin.js";
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

// Bug: the tick skips the base class's stop gate and runs the device while stopped. The
// base class's dmaWrite refuses with EIO ("driver bug"), so nothing reaches the host's
// DmaPort: only the error shows that the device tried to act.
class TickWhileStopped extends ToyDriver {
  override tick(): void {
    this._tick();
  }
}
const tickWhileStopped: VendorPlugin = {
  ...toyPlugin,
  create: (ctx) => new TickWhileStopped(ctx, new Set()),
};

// Bug: a guest register write rings a doorbell that DMAs at once, stopped or not.
class DoorbellWhileStopped extends ToyDriver {
  override setReg(i: number, value: number): void {
    if (!this.running) this.dmaWrite(0x2000, Uint8Array.of(1, 2, 3, 4));
    super.setReg(i, value);
  }
}
const doorbellWhileStopped: VendorPlugin = {
  ...toyPlugin,
  create: (ctx) => new DoorbellWhileStopped(ctx, new Set()),
};

describe("quiescence group catches devices that act while stopped", () => {
  it("fails for a device that DMAs in STOP", async () => {
    await expect(
      runConformanceGroup("quiescence", dmaWhileStopped, toyOptions, { only: /source is silent/ }),
    ).rejects.toThrow(/the stopped device acted: DMA write iova=0x2000/);
  });

  it("fails for a tick that runs the device while stopped (the base class refuses its DMA with EIO)", async () => {
    await expect(
      runConformanceGroup("quiescence", tickWhileStopped, toyOptions, { only: /source is silent/ }),
    ).rejects.toThrow(
      /^\[quiescence\] the source is silent in STOP and STOP_COPY, however it is poked: .*EIO: driver bug: DMA write attempted while the device is stopped/,
    );
  });

  it("fails for guest work that makes the stopped device DMA (EIO), not only for a tick", async () => {
    await expect(
      runConformanceGroup("quiescence", doorbellWhileStopped, toyOptions, {
        only: /source is silent/,
      }),
    ).rejects.toThrow(
      /^\[quiescence\] the source is silent in STOP and STOP_COPY, however it is poked: .*EIO: driver bug: DMA write attempted while the device is stopped/,
    );
  });

  it("passes for the correct toy", async () => {
    await expect(runConformanceGroup("quiescence", toyPlugin, toyOptions)).resolves.toBeDefined();
  });
});
