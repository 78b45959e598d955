/**
 * How `@mdevkit/conformance` drives sriov-nic, exported as
 * `@mdevkit/plugin-sriov-nic/conformance` so this package's test and the cross-plugin
 * matrix use one copy. Types are structural (no import of the suite: see mtty's note).
 */
import { describeState } from "./describe.js";
import {
  decodeCompatImage,
  encodeCompatImage,
  imageLength,
  splitImages,
} from "./migration-format.js";
import { Reg } from "./regs.js";
import type { SriovNicDriver } from "./sriov-nic-driver.js";

/** The part of the suite's `Rng` the hooks use. */
export interface ConformanceRng {
  int(maxExclusive: number): number;
}

/** sriov-nic's conformance hooks; assignable to `ConformanceOptions<SriovNicDriver>`. */
export interface SriovNicConformanceOptions {
  readonly deviceType: "igbvf-2q";
  readonly deviceOptions: Readonly<Record<string, unknown>>;
  readonly seed: number;
  readonly memoryBytes: number;
  exercise(driver: SriovNicDriver, rng: ConformanceRng): void;
  describeState(driver: SriovNicDriver): Record<string, unknown>;
  readonly earlyValidationBytes: number;
  newerVersionStream(stream: Uint8Array): Uint8Array;
  incompatibleCompat(blob: Uint8Array): Uint8Array;
}

/**
 * Guest work on top of the guest driver model the ticks run: interrupt moderation, RSS
 * redirection entries, forced causes. Stopped, the first register access throws EBUSY.
 */
export function exerciseSriovNic(driver: SriovNicDriver, rng: ConformanceRng): void {
  driver.writeRegister(Reg.EITR0 + 4 * rng.int(3), rng.int(8));
  driver.writeRegister(Reg.RETA0 + 4 * rng.int(16), rng.int(2 ** 32));
  driver.writeRegister(Reg.EICS, 1 << rng.int(3));
  if (rng.int(2) === 0) driver.readRegister(Reg.EICR);
}

function withMajor(image: Uint8Array, major: number, queuePairs?: number): Uint8Array {
  const { info, pf } = decodeCompatImage(image);
  const next = { ...info, major, queuePairs: queuePairs ?? info.queuePairs };
  if (pf === undefined) throw new Error("compat image without pf-config");
  return encodeCompatImage(next, pf);
}

/** A compat image's length: what the target validates before the rest arrives. */
function compatLength(): number {
  return imageLength(
    encodeCompatImage(
      {
        major: 1,
        minor: 0,
        vendorId: 0,
        deviceId: 0,
        queuePairs: 2,
        rssKeyBytes: 40,
        retaEntries: 64,
        msixVectors: 3,
        mbxApi: 0,
        features: 0,
      },
      { adminMac: 0x020000000001, portVlan: 0, spoofChk: true, trust: false },
    ),
  )!;
}

/** Suite options: the small `test` profile in 2 MiB of guest RAM. */
export const sriovNicConformanceOptions: SriovNicConformanceOptions = {
  deviceType: "igbvf-2q",
  deviceOptions: { profile: "test" },
  seed: 11,
  memoryBytes: 2 * 1024 * 1024,
  exercise: exerciseSriovNic,
  describeState,
  earlyValidationBytes: compatLength(),
  // A stream from a build with stream major 2.
  newerVersionStream: (stream) => {
    const images = splitImages(stream);
    const out = [withMajor(images[0]!, 2), ...images.slice(1)];
    return Uint8Array.from(out.flatMap((i) => Array.from(i)));
  },
  // A source VF with four queue pairs: more than this PF gives.
  incompatibleCompat: (blob) => withMajor(blob, 1, 4),
};
