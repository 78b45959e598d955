/**
 * The VF's 256-byte PCI configuration header. Writes go through a per-byte write mask
 * (read-only bits keep their value), which also gives BAR sizing: writing all-ones to
 * BAR2 leaves exactly the size mask. The VMM saves and restores config space itself, so
 * it is not part of the device stream.
 */
import type { ConfigSpaceImage } from "@mdevkit/core";
import type { Personality } from "./profiles.js";

/** PCI class code: processing accelerator (0x12), vendor-specific interface. */
export const ACCEL_CLASS_CODE = 0x120000;
/** BAR2 size: 64 KiB, as on hisi VFs (the upper half is the hidden migration space). */
export const BAR2_BYTES = 0x10000;
/** COMMAND bits the VF implements: memory space, bus master, INTx disable. */
const COMMAND_WRITABLE = 0x0406;

function put(b: Uint8Array, at: number, v: number, n: number): void {
  for (let i = 0; i < n; i++) b[at + i] = (v >>> (8 * i)) & 0xff;
}

/** Builds the header of a VF with personality `p`. */
export function buildConfigSpace(p: Personality): ConfigSpaceImage {
  const bytes = new Uint8Array(256);
  const writeMask = new Uint8Array(256);
  put(bytes, 0x00, p.vendorId, 2);
  put(bytes, 0x02, p.deviceId, 2);
  put(bytes, 0x08, 0x21, 1); // revision: QM hardware v3 era
  put(bytes, 0x09, ACCEL_CLASS_CODE, 3);
  put(bytes, 0x18, 0x4, 4); // BAR2: 64-bit memory BAR
  put(bytes, 0x2c, p.vendorId, 2);
  put(bytes, 0x2e, p.deviceId, 2);
  put(bytes, 0x3d, 1, 1); // INTA
  put(writeMask, 0x04, COMMAND_WRITABLE, 2);
  put(writeMask, 0x18, ~(BAR2_BYTES - 1) & 0xfffffff0, 4);
  put(writeMask, 0x1c, 0xffffffff, 4);
  writeMask[0x3c] = 0xff;
  return { bytes, writeMask };
}
