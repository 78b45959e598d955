/**
 * Compatibility data: what the source says about a device in the handshake, so the
 * target can refuse before the source stops anything.
 *
 * Blob layout (8 bytes, little-endian): u16 stream major, u16 stream minor, u32 port count.
 * The stream version is what matters (the target must be able to parse the bytes);
 * the port count must match because the layout has one fixed block per port.
 */
import type { CompatibilityVerdict, SourceDeviceInfo } from "@mdevkit/core";
import { findPortCount } from "./device-types.js";
import { STREAM_MAJOR, STREAM_MINOR } from "./migration-format.js";

/** Size of the compatibility blob. */
export const COMPAT_BYTES = 8;

/** The compatibility blob for a device with `nrPorts` ports. */
export function encodeCompatibility(nrPorts: number): Uint8Array {
  const out = new Uint8Array(COMPAT_BYTES);
  const v = new DataView(out.buffer);
  v.setUint16(0, STREAM_MAJOR, true);
  v.setUint16(2, STREAM_MINOR, true);
  v.setUint32(4, nrPorts, true);
  return out;
}

/**
 * Judges whether this plugin can load a device described by `source`: the type must
 * exist here, the blob must be well-formed, its stream version one this plugin reads,
 * and its port count the one this plugin gives that type.
 */
export function checkCompatible(source: SourceDeviceInfo): CompatibilityVerdict {
  const no = (reason: string): CompatibilityVerdict => ({
    compatible: false,
    reason: `mtty: ${reason}`,
  });
  if (source.plugin !== "mtty") return no(`device belongs to plugin "${source.plugin}"`);
  const ports = findPortCount(source.deviceType);
  if (ports === undefined) return no(`unknown device type "${source.deviceType}"`);
  const blob = source.compatibility;
  if (blob.byteLength !== COMPAT_BYTES) {
    return no(`compatibility data is ${blob.byteLength} bytes, expected ${COMPAT_BYTES}`);
  }
  const v = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const major = v.getUint16(0, true);
  const minor = v.getUint16(2, true);
  if (major !== STREAM_MAJOR || minor !== STREAM_MINOR) {
    return no(
      `source sends stream version ${major}.${minor}, this plugin reads only ${STREAM_MAJOR}.${STREAM_MINOR}`,
    );
  }
  const nrPorts = v.getUint32(4, true);
  if (nrPorts !== ports) {
    return no(`source device has ${nrPorts} ports, a "${source.deviceType}" here has ${ports}`);
  }
  return { compatible: true };
}
