/**
 * How `@mdevkit/conformance` drives mtty (mtty-2, the dual-port card): the hooks a plugin
 * author writes once (see docs/writing-a-plugin.md). mtty's own test/conformance.test.ts
 * runs the suite with them, and they are exported as `@mdevkit/plugin-mtty/conformance`
 * for the repository's cross-plugin matrix (test/conformance).
 *
 * Only types come from `@mdevkit/conformance` (a devDependency), so nothing here loads
 * the suite at run time.
 */
import type { ConformanceOptions, Rng } from "@mdevkit/conformance";
import { describeState } from "./describe.js";
import { HEADER_BYTES } from "./migration-format.js";
import type { MttyDriver } from "./mtty-driver.js";
import { Reg } from "./uart.js";

/** Guest work: program every port from `rng`, arm a DMA ring on port 0, read a little. */
export function exerciseMtty(driver: MttyDriver, rng: Rng): void {
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

/**
 * Suite options for mtty-2: every hook mtty can give, so every group runs. The
 * description already leaves out volatile fields, so `volatileFields` is not needed.
 */
export const mttyConformanceOptions: ConformanceOptions<MttyDriver> = {
  deviceType: "mtty-2",
  seed: 7,
  exercise: exerciseMtty,
  describeState,
  // The header is checked by the target as soon as it has arrived.
  earlyValidationBytes: HEADER_BYTES,
  // A header from stream version 1.1 (minor at offset 12): this build reads only 1.0.
  newerVersionStream: (stream) => {
    const out = stream.slice();
    new DataView(out.buffer).setUint32(12, 1, true);
    return out;
  },
  // Compatibility data claiming stream major 2 (u16 at offset 0).
  incompatibleCompat: (blob) => {
    const out = blob.slice();
    new DataView(out.buffer).setUint16(0, 2, true);
    return out;
  },
};
