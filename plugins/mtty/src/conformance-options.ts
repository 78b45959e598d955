/**
 * How `@mdevkit/conformance` drives mtty (mtty-2, the dual-port card): the hooks a plugin
 * author writes once (see docs/writing-a-plugin.md). Exported as
 * `@mdevkit/plugin-mtty/conformance` so every suite run over mtty — this package's own
 * test, the conformance package's self-tests, the cross-plugin matrix — uses one copy.
 *
 * The types are declared here, structurally, instead of imported from
 * `@mdevkit/conformance`: that package's own tests depend on mtty, so a dependency back
 * would be a cycle turbo refuses, and mtty's build would need the suite built first. The
 * object is checked against `ConformanceOptions` where it is used; {@link ConformanceRng}
 * is the slice of the suite's `Rng` the hooks draw from, so the suite's `Rng` fits it.
 */
import { describeState, type MttyDescription } from "./describe.js";
import { HEADER_BYTES } from "./migration-format.js";
import type { MttyDriver } from "./mtty-driver.js";
import { Reg } from "./uart.js";

/** The part of `@mdevkit/conformance`'s `Rng` mtty's hooks use. */
export interface ConformanceRng {
  /** Integer in `[0, maxExclusive)`. */
  int(maxExclusive: number): number;
  /** One element of `items` (non-empty). */
  pick<T>(items: readonly T[]): T;
}

/** mtty's conformance hooks; assignable to `ConformanceOptions<MttyDriver>`. */
export interface MttyConformanceOptions {
  /** The dual-port card: multi-port paths without the size of mtty-4. */
  readonly deviceType: "mtty-2";
  /** Seed of the device context and the suite's generators. */
  readonly seed: number;
  /** Guest work: program every port, arm a DMA ring on port 0, read a little. */
  exercise(driver: MttyDriver, rng: ConformanceRng): void;
  /** mtty's comparable state (no volatile fields: the description already leaves them out). */
  describeState(driver: MttyDriver): MttyDescription;
  /** The header, checked by the target as soon as it has arrived. */
  readonly earlyValidationBytes: number;
  /** A stream as a newer build would send it. */
  newerVersionStream(stream: Uint8Array): Uint8Array;
  /** Compatibility data this build must refuse. */
  incompatibleCompat(blob: Uint8Array): Uint8Array;
}

/** Guest work: program every port from `rng`, arm a DMA ring on port 0, read a little. */
export function exerciseMtty(driver: MttyDriver, rng: ConformanceRng): void {
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

/** Suite options for mtty-2. */
export const mttyConformanceOptions: MttyConformanceOptions = {
  deviceType: "mtty-2",
  seed: 7,
  exercise: exerciseMtty,
  describeState,
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
