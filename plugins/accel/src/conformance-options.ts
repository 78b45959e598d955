/**
 * How `@mdevkit/conformance` drives the accelerator: the hooks a plugin author writes once.
 * This package's test/conformance.test.ts runs the suite with them under both stop
 * policies; they are exported as `@mdevkit/plugin-accel/conformance` for the repository's
 * cross-plugin matrix. Only types come from `@mdevkit/conformance`.
 */
import type { ConformanceOptions, Rng } from "@mdevkit/conformance";
import { type DirtyTrackingMethod, MigState } from "@mdevkit/core";
import type { AccelDriver } from "./accel-driver.js";
import { compatOf, decodeCompat, encodeCompat } from "./compat.js";
import { describeAccel } from "./describe.js";
import { findPersonality, type PersonalityName, PROFILES } from "./profiles.js";
import { rewriteStateVersion, STATE_VERSION } from "./state-format.js";

/**
 * Guest work: submit 1–3 jobs on a random pair and run the interrupt bottom half. While
 * the device is stopped both refuse with EBUSY (the vCPUs would be paused).
 */
export function exerciseAccel(driver: AccelDriver, rng: Rng): void {
  driver.guestSubmit(rng.int(driver.profile.qpNum), 1 + rng.int(3));
  driver.guestService();
}

/** Suite options for one personality, stop policy and dirty-tracking method (test profile). */
export function accelConformanceOptions(
  stopPolicy: "drain" | "checkpoint" = "drain",
  personality: PersonalityName = "hisi-zip",
  dirtyTracking: DirtyTrackingMethod = "iommu-pinned",
): ConformanceOptions<AccelDriver> {
  const p = findPersonality(personality)!;
  return {
    deviceType: personality,
    dirtyTracking,
    deviceOptions: { stopPolicy },
    seed: 11,
    exercise: exerciseAccel,
    describeState: describeAccel,
    // The compat record is checked the moment it is complete.
    earlyValidationBytes: encodeCompat(compatOf(p, PROFILES.test, 2)).byteLength,
    // A state section from a newer build (v3): refused, this build reads up to v2.
    newerVersionStream: (stream) => rewriteStateVersion(stream, STATE_VERSION + 1),
    // A PF RAS error makes the stop fail: the device enters ERROR, and only reset leaves it.
    driveToError: async (driver) => {
      driver.injectRasError();
      await driver.setState(MigState.STOP).catch(() => {});
    },
    // Another device id: a different VF model must be refused before anything stops.
    incompatibleCompat: (blob) =>
      encodeCompat({ ...decodeCompat(blob), deviceId: (p.deviceId + 1) & 0xffff }),
  };
}

/** The default options: hisi-zip, drain. */
export const accelConformance: ConformanceOptions<AccelDriver> = accelConformanceOptions();
