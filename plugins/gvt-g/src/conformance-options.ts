/**
 * How `@mdevkit/conformance` drives GVT-g: the test vGPU (GVTg_TEST) with the guest
 * driver's own workload from `tick()`, plus guest MMIO the suite's generator chooses.
 * `gvtgConformanceOptions(method, flags)` gives one configuration of the matrix the
 * issue asks for: both dirty methods, with PRE_COPY and STOP_COPY only.
 *
 * Only types come from `@mdevkit/conformance`, so nothing here loads the suite at run time.
 */
import type { ConformanceOptions, Rng } from "@mdevkit/conformance";
import { MigFlags } from "@mdevkit/core";
import { describeState } from "./describe.js";
import { pteOf } from "./ggtt.js";
import type { GvtgDriver } from "./gvtg-driver.js";
import { compatOf, encodeCompat, withStreamVersion } from "./migration-format.js";
import { dePipeIsr, IMR, PIPE_VBLANK } from "./registers.js";
import { vgpuTypeOf } from "./vgpu-types.js";

/** A scratch range of the MMIO file the guest may use freely (GEN7_SCRATCH-like). */
const SCRATCH = 0xb100;

/**
 * Guest work: scratch registers, pipe C's vblank mask, and a remap of one pool GGTT
 * entry (sometimes as a half-written PTE). Throws EBUSY while the device is stopped.
 */
export function exerciseGvtg(driver: GvtgDriver, rng: Rng): void {
  driver.guestMmioWrite(SCRATCH + 4 * rng.int(16), rng.int(0x1_0000_0000));
  const imr = dePipeIsr(2) + IMR;
  driver.guestMmioWrite(imr, rng.int(2) === 0 ? PIPE_VBLANK : 0);
  const L = driver.vgpu.layout;
  if (!driver.vgpu.guestDriverLoaded) return;
  const index = L.poolIndex + rng.int(L.poolEntries);
  const [lo, hi] = pteOf(L.poolGfn + rng.int(L.poolPages));
  if (rng.int(4) === 0) driver.guestMmioWrite(8 * 2 ** 20 + index * 8, lo);
  else driver.guestGgttWrite(index, lo, hi);
}

/** The description without the digest of the config space (the VMM's, restored separately). */
function describe(driver: GvtgDriver): unknown {
  return describeState(driver);
}

/** Suite options for GVTg_TEST with dirty method `method` and the given flags. */
export function gvtgConformanceOptions(
  method: "iommu-pinned" | "vendor-bitmap" = "iommu-pinned",
  preCopy = true,
): ConformanceOptions<GvtgDriver> {
  const type = vgpuTypeOf("GVTg_TEST");
  return {
    deviceType: "GVTg_TEST",
    deviceOptions: preCopy ? {} : { stopCopyOnly: true },
    dirtyTracking: method,
    ...(preCopy ? {} : { migrationFlags: MigFlags.STOP_COPY }),
    seed: 11,
    memoryBytes: 2 * 2 ** 20,
    exercise: exerciseGvtg,
    describeState: describe,
    hostOnlyValues: (driver) => driver.hostOnlyValues(),
    earlyValidationBytes: encodeCompat(compatOf(type)).byteLength,
    newerVersionStream: (stream) => withStreamVersion(stream, 3),
    incompatibleCompat: () => encodeCompat({ ...compatOf(type), fences: 8 }),
    ticksPerRound: 12,
  };
}

/** The default configuration (iommu-pinned, PRE_COPY), for the cross-plugin matrix. */
export const gvtgConformance: ConformanceOptions<GvtgDriver> = gvtgConformanceOptions();
