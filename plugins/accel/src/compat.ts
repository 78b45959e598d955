/**
 * The compat record: the first thing a source sends (the PRE_COPY data, and the
 * compatibility blob of the handshake), so a target refuses an incompatible device before
 * the source stops. It merges HiSilicon's 40-byte match block (`acc_magic`, `qp_num`,
 * `dev_id`, `que_iso_cfg`, driver major/minor) with QAT's setup section (`gencap`
 * capability mask, `svcmap` ring-to-service map).
 *
 * Encoded as its own StateWriter image with one mandatory section, `accel.compat`.
 */
import { MdevError, StateReader, StateWriter } from "@mdevkit/core";
import {
  findPersonality,
  type Personality,
  type PersonalityName,
  type Profile,
} from "./profiles.js";

/** hisi `ACC_DEV_MAGIC_V1`: a stream whose EQ/AEQ addresses were taken from the wrong dwords. */
export const ACC_DEV_MAGIC_V1 = 0xcdcdcdcdfeedaaccn;
/** hisi `ACC_DEV_MAGIC_V2`: addresses fixed. */
export const ACC_DEV_MAGIC_V2 = 0xaaccfeeddecadeden;
/** Driver major version (must be equal on both sides). */
export const ACC_DRV_MAJOR = 1;
/** Driver minor version (informational). */
export const ACC_DRV_MINOR = 0;
/** Section tag of the compat record. */
export const COMPAT_TAG = "accel.compat";

/** The compat record, decoded. */
export interface AccelCompat {
  /** Device type on the source. */
  readonly personality: PersonalityName;
  /** `ACC_DEV_MAGIC_V1` or `_V2`: which state layout follows. */
  readonly magic: bigint;
  /** PCI device id of the VF. */
  readonly deviceId: number;
  /** Queue pairs the VF owns (`qp_num`). */
  readonly qpNum: number;
  /** First queue pair in the PF's numbering (`qp_base`; 0 here). */
  readonly qpBase: number;
  /** PF queue isolation configuration (`que_iso_cfg`). */
  readonly isoCfg: number;
  /** Driver major version; must be equal. */
  readonly drvMajor: number;
  /** Driver minor version. */
  readonly drvMinor: number;
  /** Capability mask (QAT `gencap`). */
  readonly algMask: bigint;
  /** Ring-to-service map (QAT `svcmap`). */
  readonly ringToSvcMap: number;
  /** SQ/CQ entries. */
  readonly depth: number;
  /** Bytes per SQE. */
  readonly sqeBytes: number;
  /** Bytes per job buffer. */
  readonly jobBytes: number;
  /** EQ entries. */
  readonly eqDepth: number;
  /** AEQ entries. */
  readonly aeqDepth: number;
}

/** What a target will accept: its own identity, and its policy for v1 streams. */
export interface CompatJudge {
  /** This host's personality (with its capability overrides). */
  readonly personality: Personality;
  /** The profile the device would be loaded into. */
  readonly profile: Profile;
  /** `fixup`: load v1 streams, recomputing the EQ/AEQ bases; `refuse`: block them. */
  readonly v1Streams: "fixup" | "refuse";
}

/** The compat record of a device. */
export function compatOf(p: Personality, profile: Profile, streamVersion: 1 | 2): AccelCompat {
  return {
    personality: p.name,
    magic: streamVersion === 1 ? ACC_DEV_MAGIC_V1 : ACC_DEV_MAGIC_V2,
    deviceId: p.deviceId,
    qpNum: profile.qpNum,
    qpBase: 0,
    isoCfg: p.isoCfg,
    drvMajor: ACC_DRV_MAJOR,
    drvMinor: ACC_DRV_MINOR,
    algMask: p.algMask,
    ringToSvcMap: p.ringToSvcMap,
    depth: profile.depth,
    sqeBytes: p.sqeBytes,
    jobBytes: profile.jobBytes,
    eqDepth: profile.eqDepth,
    aeqDepth: profile.aeqDepth,
  };
}

/** Encodes the compat record as a one-section image. */
export function encodeCompat(c: AccelCompat): Uint8Array {
  return new StateWriter()
    .section(COMPAT_TAG, 1, (f) => {
      f.string(c.personality)
        .u64(c.magic)
        .u16(c.deviceId)
        .u32(c.qpNum)
        .u32(c.qpBase)
        .u32(c.isoCfg)
        .u16(c.drvMajor)
        .u16(c.drvMinor)
        .u64(c.algMask)
        .u16(c.ringToSvcMap)
        .u32(c.depth)
        .u16(c.sqeBytes)
        .u32(c.jobBytes)
        .u32(c.eqDepth)
        .u32(c.aeqDepth);
    })
    .finish();
}

/**
 * Decodes a compat image (exactly one image's bytes).
 * @throws StateError for framing faults; MdevError EINVAL for an unknown personality.
 */
export function decodeCompat(image: Uint8Array): AccelCompat {
  const sections = new StateReader(image, { sections: { [COMPAT_TAG]: 1 } }).toMap();
  const s = sections.get(COMPAT_TAG);
  if (s === undefined) throw new MdevError("EINVAL", "accel: stream has no compat record");
  const f = s.fields;
  const personality = f.string(32);
  if (findPersonality(personality) === undefined)
    throw new MdevError(
      "EINVAL",
      `accel: compat record names unknown personality "${personality}"`,
    );
  const c: AccelCompat = {
    personality: personality as PersonalityName,
    magic: f.u64(),
    deviceId: f.u16(),
    qpNum: f.u32(),
    qpBase: f.u32(),
    isoCfg: f.u32(),
    drvMajor: f.u16(),
    drvMinor: f.u16(),
    algMask: f.u64(),
    ringToSvcMap: f.u16(),
    depth: f.u32(),
    sqeBytes: f.u16(),
    jobBytes: f.u32(),
    eqDepth: f.u32(),
    aeqDepth: f.u32(),
  };
  f.end();
  return c;
}

/** Stream version a compat record announces by its magic, or undefined for a foreign magic. */
export function streamVersionOf(c: AccelCompat): 1 | 2 | undefined {
  if (c.magic === ACC_DEV_MAGIC_V2) return 2;
  if (c.magic === ACC_DEV_MAGIC_V1) return 1;
  return undefined;
}

/**
 * Why `judge` cannot take a device described by `c`, or undefined if it can. Checks, in
 * hisi `vf_qm_check_match` order then QAT's: magic (and the v1 policy), driver major,
 * device id, queue count, isolation, then capabilities (equal for hisi, a superset for
 * QAT), the ring-to-service map, and the queue geometry.
 */
export function incompatibility(c: AccelCompat, judge: CompatJudge): string | undefined {
  const p = judge.personality;
  const prof = judge.profile;
  const v = streamVersionOf(c);
  if (v === undefined) return `unknown migration magic 0x${c.magic.toString(16)}`;
  if (v === 1 && judge.v1Streams === "refuse")
    return "stream v1 (ACC_DEV_MAGIC_V1: EQ/AEQ addresses from the wrong dwords) is refused by policy";
  if (c.drvMajor !== ACC_DRV_MAJOR)
    return `driver major ${c.drvMajor}, this host runs ${ACC_DRV_MAJOR}`;
  if (c.personality !== p.name) return `personality ${c.personality}, this device is ${p.name}`;
  if (c.deviceId !== p.deviceId)
    return `device id 0x${c.deviceId.toString(16)}, this VF is 0x${p.deviceId.toString(16)}`;
  if (c.qpNum !== prof.qpNum || c.qpBase !== 0)
    return `${c.qpNum} queue pairs, this VF has ${prof.qpNum}`;
  if (c.isoCfg !== p.isoCfg) return `queue isolation ${c.isoCfg}, this PF uses ${p.isoCfg}`;
  if (p.compatRule === "match" && c.algMask !== p.algMask)
    return `algorithm mask 0x${c.algMask.toString(16)} differs from 0x${p.algMask.toString(16)}`;
  if (p.compatRule === "superset" && (c.algMask & ~p.algMask) !== 0n)
    return `capability mask 0x${c.algMask.toString(16)} is not within this VF's 0x${p.algMask.toString(16)}`;
  if (c.ringToSvcMap !== p.ringToSvcMap)
    return `ring-to-service map 0x${c.ringToSvcMap.toString(16)}, this VF uses 0x${p.ringToSvcMap.toString(16)}`;
  if (
    c.depth !== prof.depth ||
    c.sqeBytes !== p.sqeBytes ||
    c.jobBytes !== prof.jobBytes ||
    c.eqDepth !== prof.eqDepth ||
    c.aeqDepth !== prof.aeqDepth
  )
    return `queue geometry ${c.depth}x${c.sqeBytes}B/${c.jobBytes}B/eq ${c.eqDepth}/aeq ${c.aeqDepth} differs from this profile (${prof.name})`;
  return undefined;
}
