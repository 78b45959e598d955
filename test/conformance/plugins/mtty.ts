/** Conformance hooks for `@mdevkit/plugin-mtty` (mtty-2, the dual-port card). */

import type { Rng } from "@mdevkit/conformance";
import {
  describeState,
  HEADER_BYTES,
  type MttyDriver,
  mttyPlugin,
  Reg,
} from "@mdevkit/plugin-mtty";
import type { PluginEntry } from "../registry.js";

/** Guest work: program every port from `rng`, arm a DMA ring on port 0, read a little. */
function exercise(driver: MttyDriver, rng: Rng): void {
  for (let p = 0; p < driver.portCount; p++) {
    driver.writeRegister(p, Reg.LCR, 0x80);
    driver.writeRegister(p, Reg.RBR_THR, rng.int(256));
    driver.writeRegister(p, Reg.LCR, 0x03);
    driver.writeRegister(p, Reg.IIR_FCR, rng.pick([0x00, 0x01, 0x41, 0x81, 0xc1]));
    driver.writeRegister(p, Reg.IER, rng.int(16));
    driver.writeRegister(p, Reg.MCR, rng.int(0x10));
    driver.writeRegister(p, Reg.SCR, rng.int(256));
    if (rng.int(2) === 0) driver.readRegister(p, Reg.RBR_THR);
  }
  if (driver.readRegister(0, Reg.RING_SIZE) === 0) {
    driver.writeRegister(0, Reg.RING_BASE_LO, 0x10000 + rng.int(64) * 4096 + rng.int(4096));
    driver.writeRegister(0, Reg.RING_SIZE, 4096 + 100);
  }
}

export const mtty: PluginEntry<MttyDriver> = {
  plugin: mttyPlugin,
  options: {
    deviceType: "mtty-2",
    seed: 7,
    exercise,
    describeState,
    earlyValidationBytes: HEADER_BYTES,
    // A header from stream version 1.1: this build reads only 1.0.
    newerVersionStream(stream) {
      new DataView(stream.buffer, stream.byteOffset).setUint32(12, 1, true);
      return stream;
    },
    // Compatibility data claiming stream major 2.
    incompatibleCompat(blob) {
      new DataView(blob.buffer, blob.byteOffset).setUint16(0, 2, true);
      return blob;
    },
  },
};
