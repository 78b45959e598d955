/**
 * How `@mdevkit/conformance` drives this plugin's devices: the hooks that let the suite
 * check more than the bare contract (see docs/writing-a-plugin.md, "Running the
 * conformance suite"). Shipped as the `./conformance` subpath so the repository's
 * cross-plugin matrix (test/conformance) can reuse them.
 */
import type { ConformanceOptions, Rng } from "@mdevkit/conformance";
import { StateReader, StateWriter } from "@mdevkit/core";
import { describeState } from "./describe.js";
import { CTRL, Reg, STATUS } from "./device.js";
import type { __PascalName__Driver } from "./driver.js";
import {
  decodeIdentity,
  encodeIdentity,
  identityBytes,
  SECTION_VERSIONS,
  splitImage,
} from "./state-format.js";

const DEVICE_TYPE = "__PLUGIN_NAME__-1";

/** Guest work: set scratch and control bits, program a ring once, acknowledge interrupts. */
function exercise(driver: __PascalName__Driver, rng: Rng): void {
  driver.writeRegister(Reg.SCRATCH, rng.nextU32());
  driver.writeRegister(Reg.CTRL, CTRL.ENABLE | rng.pick([0, CTRL.IRQ_ENABLE]));
  if (driver.readRegister(Reg.RING_ENTRIES) === 0) {
    // Inside the harness's 1 MiB of guest RAM, not page aligned, often spanning pages.
    driver.writeRegister(Reg.RING_BASE_LO, 0x10000 + rng.int(32) * 4096 + rng.int(256) * 16);
    driver.writeRegister(Reg.RING_BASE_HI, 0);
    driver.writeRegister(Reg.RING_ENTRIES, 64 + rng.int(449));
  }
  if (rng.int(2) === 0) driver.writeRegister(Reg.STATUS, STATUS.IRQ_PENDING);
}

/**
 * A saved image as a newer build would send it: the `ring` section one version ahead.
 * Re-framed with core's writer, so every CRC is right and only the version is new.
 */
function newerVersionStream(image: Uint8Array): Uint8Array {
  const { identity, state } = splitImage(image, DEVICE_TYPE);
  const writer = new StateWriter();
  const sections = { regs: SECTION_VERSIONS.regs, ring: SECTION_VERSIONS.ring };
  for (const s of new StateReader(state, { sections })) {
    const payload = s.fields.raw(s.fields.remaining).slice();
    const version = s.tag === "ring" ? s.version + 1 : s.version;
    writer.section(s.tag, version, (f) => f.raw(payload), { optional: s.optional });
  }
  const newer = writer.finish();
  const out = new Uint8Array(identity.byteLength + newer.byteLength);
  out.set(identity);
  out.set(newer, identity.byteLength);
  return out;
}

/** Conformance options for `__PLUGIN_NAME__-1` devices. */
export const __camelName__ConformanceOptions: ConformanceOptions<__PascalName__Driver> = {
  deviceType: DEVICE_TYPE,
  seed: 7,
  exercise,
  describeState,
  // The identity stream is checked as soon as it has arrived.
  earlyValidationBytes: identityBytes(DEVICE_TYPE),
  newerVersionStream,
  // Compatibility data from a build with the next stream major.
  incompatibleCompat: (blob) => {
    const id = decodeIdentity(blob);
    return encodeIdentity(id.deviceType, id.major + 1);
  },
};
