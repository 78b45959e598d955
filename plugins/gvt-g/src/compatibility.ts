/**
 * Compatibility: the source's compat record (the same bytes that open its stream) is
 * its handshake blob, so a target with another vGPU type, fence count, engine set,
 * generation or a stream version it cannot read refuses before the source stops.
 */
import type { CompatibilityVerdict, SourceDeviceInfo } from "@mdevkit/core";
import { compatProblem, decodeCompat } from "./migration-format.js";
import { findVgpuType } from "./vgpu-types.js";

/** Judges whether a vGPU described by `source` can be loaded on this host. */
export function checkCompatible(source: SourceDeviceInfo): CompatibilityVerdict {
  const no = (reason: string): CompatibilityVerdict => ({
    compatible: false,
    reason: `gvt-g: ${reason}`,
  });
  if (source.plugin !== "gvt-g") return no(`device belongs to plugin "${source.plugin}"`);
  const type = findVgpuType(source.deviceType);
  if (type === undefined) return no(`this host offers no vGPU type "${source.deviceType}"`);
  let problem: string | undefined;
  try {
    problem = compatProblem(decodeCompat(source.compatibility), type);
  } catch (err) {
    return no(`unreadable compatibility data: ${(err as Error).message}`);
  }
  return problem === undefined ? { compatible: true } : no(`source has ${problem}`);
}
