/**
 * Personalities (which real device the VF imitates) and profiles (how big it is).
 *
 * A personality fixes the identity the compat record carries — device id, algorithm
 * capability mask, ring-to-service map, queue element size, the migration magic — and the
 * compat rule the target applies (hisi: match block equal; QAT: capability superset).
 * A profile fixes the sizes; `test` keeps unit tests fast, `heavy` moves 64 KiB jobs.
 */
import { MdevError } from "@mdevkit/core";
import { z } from "zod";

/** The devices this plugin imitates; also its device type names. */
export type PersonalityName = "hisi-zip" | "qat-gen4";

/** Identity and rules of one personality. */
export interface Personality {
  /** The personality's name (the device type). */
  readonly name: PersonalityName;
  /** One line for humans. */
  readonly description: string;
  /** PCI device id of the VF (HiSilicon ZIP VF 0xa251, QAT 4xxx VF 0x4941). */
  readonly deviceId: number;
  /** PCI vendor id. */
  readonly vendorId: number;
  /** Algorithms the VF offers (bit per {@link JobOp}); QAT's `accel_capabilities_mask`. */
  readonly algMask: bigint;
  /** QAT's `ring_to_svc_map` (must be equal on the target); hisi has none (0). */
  readonly ringToSvcMap: number;
  /** PF queue isolation configuration (hisi `QM_QUE_ISO_CFG_V`, must be equal). */
  readonly isoCfg: number;
  /** Bytes per submission queue element: 128 (hisi ZIP SQE), 64 (QAT request message). */
  readonly sqeBytes: 64 | 128;
  /** How the target judges the compat record: exact match (hisi) or capability superset (QAT). */
  readonly compatRule: "match" | "superset";
}

/** Bit of each algorithm in a capability mask. */
export const ALG = { COMPRESS: 1n << 0n, ENCRYPT: 1n << 1n, HASH: 1n << 2n } as const;

/** Every personality, the default first. */
export const PERSONALITIES: readonly Personality[] = [
  {
    name: "hisi-zip",
    description: "HiSilicon ZIP/SEC-style VF (QM queue pairs, hisi_acc_vfio_pci)",
    vendorId: 0x19e5,
    deviceId: 0xa251,
    algMask: ALG.COMPRESS | ALG.ENCRYPT | ALG.HASH,
    ringToSvcMap: 0,
    isoCfg: 1,
    sqeBytes: 128,
    compatRule: "match",
  },
  {
    name: "qat-gen4",
    description: "Intel QAT gen4-style VF (ring-pair banks, qat_vfio_pci)",
    vendorId: 0x8086,
    deviceId: 0x4941,
    algMask: ALG.COMPRESS | ALG.ENCRYPT | ALG.HASH,
    // Ring pairs 0/1 crypto, 2/3 compression (a gen4 default map, 4 bits per ring pair).
    ringToSvcMap: 0x2211,
    isoCfg: 0,
    sqeBytes: 64,
    compatRule: "superset",
  },
];

/** The personality named `name`, or undefined. */
export function findPersonality(name: string): Personality | undefined {
  return PERSONALITIES.find((p) => p.name === name);
}

/** Sizes of one profile. */
export interface Profile {
  /** The profile's name (the `profile` option). */
  readonly name: ProfileName;
  /** Queue pairs the VF owns (hisi `qp_num`; QAT has 4 banks, we give each a pair). */
  readonly qpNum: number;
  /** Entries per SQ and per CQ. */
  readonly depth: number;
  /** Source/destination buffer pairs per queue pair (the guest's DMA pool). */
  readonly bufSlots: number;
  /** Bytes per job buffer. */
  readonly jobBytes: number;
  /** Entries of the event queue. */
  readonly eqDepth: number;
  /** Entries of the asynchronous event queue. */
  readonly aeqDepth: number;
}

/** Profile names. */
export type ProfileName = "test" | "realistic" | "heavy";

/** Every profile. `depth` is a multiple of `bufSlots` so buffer slots follow SQ indices. */
export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  test: {
    name: "test",
    qpNum: 4,
    depth: 64,
    bufSlots: 16,
    jobBytes: 4096,
    eqDepth: 64,
    aeqDepth: 64,
  },
  realistic: {
    name: "realistic",
    qpNum: 64,
    depth: 1024,
    bufSlots: 16,
    jobBytes: 4096,
    eqDepth: 2048,
    aeqDepth: 1024,
  },
  heavy: {
    name: "heavy",
    qpNum: 4,
    depth: 64,
    bufSlots: 16,
    jobBytes: 65536,
    eqDepth: 64,
    aeqDepth: 64,
  },
};

/** Engine slots (jobs in flight) per queue pair. */
export const ENGINE_SLOTS = 4;

/** Device options a VM config may give (`DeviceContext.options`). */
export const accelOptionsSchema = z
  .object({
    /** Sizes; `test` by default. */
    profile: z.enum(["test", "realistic", "heavy"]).default("test"),
    /** What the stop arc does with jobs in flight: complete them, or abort and rewind. */
    stopPolicy: z.enum(["drain", "checkpoint"]).default("drain"),
    /** Whether the built-in guest driver submits and reaps jobs on each activity tick. */
    workload: z.boolean().default(true),
    /** Guest-physical address of the guest driver's DMA region (page aligned). */
    regionGpa: z
      .number()
      .int()
      .min(0)
      .refine((v) => v % 4096 === 0, "regionGpa must be page aligned")
      .default(0x10000),
    /**
     * Stream version the source writes: 2 (fixed) or 1 (with the HiSilicon EQ/AEQ
     * address bug, for version-skew tests).
     */
    streamVersion: z.union([z.literal(1), z.literal(2)]).default(2),
  })
  .strict();

/** Parsed device options. */
export type AccelOptions = z.infer<typeof accelOptionsSchema>;

/**
 * Parses device options.
 * @throws MdevError EINVAL naming every problem.
 */
export function parseAccelOptions(options: Readonly<Record<string, unknown>>): AccelOptions {
  const parsed = accelOptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new MdevError("EINVAL", `accel device options: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}
