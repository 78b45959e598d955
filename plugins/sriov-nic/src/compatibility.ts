/**
 * Compatibility: the target refuses, during the handshake and before the source stops,
 * a VF it could not provide — another stream major, fewer queue pairs, a different RSS
 * geometry or vector count, a feature or mailbox revision it lacks, or a PF policy its
 * host does not allow (§2.4 step 1).
 */
import type { CompatibilityVerdict, SourceDeviceInfo } from "@mdevkit/core";
import { SRIOV_NIC_DEVICE_TYPES } from "./device-types.js";
import {
  type CompatInfo,
  decodeCompatImage,
  STREAM_MAJOR,
  STREAM_MINOR,
} from "./migration-format.js";
import type { PfCapabilities } from "./pf-policy.js";
import {
  ALL_FEATURES,
  MBX_API,
  RETA_ENTRIES,
  RSS_KEY_BYTES,
  VF_DEVICE_ID,
  VF_MSIX_VECTORS,
  VF_QUEUE_PAIRS,
  VF_VENDOR_ID,
} from "./regs.js";

/** Plugin name. */
export const SRIOV_NIC_PLUGIN_NAME = "sriov-nic";

/** What a default host's PF offers. */
export const DEFAULT_PF_CAPABILITIES: PfCapabilities = {
  queuePairs: VF_QUEUE_PAIRS,
  features: ALL_FEATURES,
  mbxApi: MBX_API,
  allowTrust: true,
};

/** The compat record of a VF created on a host with `caps`. */
export function compatInfoFor(caps: PfCapabilities): CompatInfo {
  return {
    major: STREAM_MAJOR,
    minor: STREAM_MINOR,
    vendorId: VF_VENDOR_ID,
    deviceId: VF_DEVICE_ID,
    queuePairs: VF_QUEUE_PAIRS,
    rssKeyBytes: RSS_KEY_BYTES,
    retaEntries: RETA_ENTRIES,
    msixVectors: VF_MSIX_VECTORS,
    mbxApi: Math.min(MBX_API, caps.mbxApi),
    features: ALL_FEATURES & caps.features,
  };
}

/**
 * Why a target with `caps` cannot take a device described by `info` (and its PF policy's
 * trust), or `undefined` when it can.
 */
export function incompatibility(
  info: CompatInfo,
  trust: boolean,
  caps: PfCapabilities,
): string | undefined {
  if (info.major !== STREAM_MAJOR)
    return `source sends stream major ${info.major}, this plugin reads major ${STREAM_MAJOR}`;
  if (info.vendorId !== VF_VENDOR_ID || info.deviceId !== VF_DEVICE_ID)
    return `source VF is ${hex(info.vendorId)}:${hex(info.deviceId)}, this host's is ${hex(VF_VENDOR_ID)}:${hex(VF_DEVICE_ID)}`;
  if (info.queuePairs > Math.min(caps.queuePairs, VF_QUEUE_PAIRS))
    return `source VF has ${info.queuePairs} queue pairs, this host's PF gives ${caps.queuePairs}`;
  if (info.rssKeyBytes !== RSS_KEY_BYTES || info.retaEntries !== RETA_ENTRIES)
    return `source RSS is a ${info.rssKeyBytes}-byte key and ${info.retaEntries} entries, this VF has ${RSS_KEY_BYTES} and ${RETA_ENTRIES}`;
  if (info.msixVectors !== VF_MSIX_VECTORS)
    return `source VF has ${info.msixVectors} MSI-X vectors, this VF has ${VF_MSIX_VECTORS}`;
  const missing = info.features & ~(caps.features & ALL_FEATURES);
  if (missing !== 0)
    return `this host's VF lacks feature bits 0x${missing.toString(16)} the source VF offered`;
  if (info.mbxApi > Math.min(caps.mbxApi, MBX_API))
    return `source negotiated mailbox API 0x${info.mbxApi.toString(16)}, this PF speaks up to 0x${caps.mbxApi.toString(16)}`;
  if (trust && !caps.allowTrust)
    return "source VF is trusted by its PF, this host does not allow trusted VFs";
  return undefined;
}

function hex(n: number): string {
  return n.toString(16).padStart(4, "0");
}

/** `checkCompatible` of a plugin whose host PF has `caps`. */
export function makeCheckCompatible(
  caps: PfCapabilities,
): (source: SourceDeviceInfo) => CompatibilityVerdict {
  return (source) => {
    const no = (reason: string): CompatibilityVerdict => ({
      compatible: false,
      reason: `sriov-nic: ${reason}`,
    });
    if (source.plugin !== SRIOV_NIC_PLUGIN_NAME)
      return no(`device belongs to plugin "${source.plugin}"`);
    if (!SRIOV_NIC_DEVICE_TYPES.some((t) => t.name === source.deviceType))
      return no(`unknown device type "${source.deviceType}"`);
    let decoded: ReturnType<typeof decodeCompatImage>;
    try {
      decoded = decodeCompatImage(source.compatibility);
    } catch (err) {
      return no(
        `compatibility data is malformed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const why = incompatibility(decoded.info, decoded.pf?.trust ?? false, caps);
    return why === undefined ? { compatible: true } : no(why);
  };
}
