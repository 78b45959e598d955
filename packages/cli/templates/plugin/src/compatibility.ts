/**
 * Compatibility data: what the source says about a device in the handshake, so the
 * target can refuse before the source stops anything. It is the identity stream
 * (`state-format.ts`) — the same bytes the target checks first when the device's data
 * arrives, so the handshake and the load can never disagree.
 */
import { type CompatibilityVerdict, isMdevError, type SourceDeviceInfo } from "@mdevkit/core";
import { DEVICE_TYPES, PLUGIN_NAME } from "./capabilities.js";
import { checkIdentity, encodeIdentity } from "./state-format.js";

/** The compatibility data of a `deviceType` device. */
export function encodeCompatibility(deviceType: string): Uint8Array {
  return encodeIdentity(deviceType);
}

/**
 * Judges whether this plugin can load a device described by `source`: same plugin, a
 * device type offered here, and identity data naming that type and this stream major.
 */
export function checkCompatible(source: SourceDeviceInfo): CompatibilityVerdict {
  const no = (reason: string): CompatibilityVerdict => ({
    compatible: false,
    reason: `${PLUGIN_NAME}: ${reason}`,
  });
  if (source.plugin !== PLUGIN_NAME) return no(`device belongs to plugin "${source.plugin}"`);
  if (!DEVICE_TYPES.some((t) => t.name === source.deviceType)) {
    return no(`unknown device type "${source.deviceType}"`);
  }
  try {
    checkIdentity(source.compatibility, source.deviceType);
  } catch (err) {
    if (isMdevError(err)) return no(`compatibility data refused: ${err.message}`);
    throw err;
  }
  return { compatible: true };
}
