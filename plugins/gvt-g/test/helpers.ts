import { createDeviceHarness, type DeviceHarness, saveDevice } from "@mdevkit/conformance";
import type { Iommu } from "@mdevkit/core";
import { GvtgDriver, gvtgPlugin } from "../src/index.js";

/** Dirty method names as the issue says them. */
export type Method = "iommu-pinned" | "vendor-bitmap";

/** A GVTg_TEST device on a fresh host (2 MiB guest RAM unless told). */
export async function gvtgHarness(
  o: {
    method?: Method;
    options?: Record<string, unknown>;
    seed?: number;
    deviceType?: string;
    memoryBytes?: number;
  } = {},
): Promise<DeviceHarness<GvtgDriver>> {
  const stopCopyOnly = o.options?.["stopCopyOnly"] === true;
  return createDeviceHarness<GvtgDriver>(gvtgPlugin, {
    deviceType: o.deviceType ?? "GVTg_TEST",
    deviceOptions: o.options ?? {},
    dirtyTracking: o.method ?? "iommu-pinned",
    ...(stopCopyOnly ? { migrationFlags: 1 } : {}),
    seed: o.seed ?? 5,
    memoryBytes: o.memoryBytes ?? 2 * 2 ** 20,
  });
}

/** Ticks a driver `n` times. */
export function ticks(driver: GvtgDriver, n: number): void {
  for (let i = 0; i < n; i++) driver.tick();
}

/** Guest frames the IOMMU holds pinned (scans guest RAM page by page). */
export function pinnedGfns(iommu: Iommu, pages: number): Set<number> {
  const out = new Set<number>();
  for (let p = 0; p < pages; p++) if (iommu.pinCount(p * 4096) > 0) out.add(p);
  return out;
}

/** Frames the vGPU must hold pinned: present GGTT entries plus shadowed PPGTT leaves. */
export function expectedPins(driver: GvtgDriver): Set<number> {
  const out = driver.vgpu.ggtt.presentGfns();
  for (const g of driver.vgpu.ppgtt.shadowLeafGfns()) out.add(g);
  return out;
}

/** The device's saved stream (PRE_COPY + STOP_COPY when it has PRE_COPY). */
export async function streamOf(driver: GvtgDriver): Promise<Uint8Array> {
  return (await saveDevice(driver)).bytes;
}

/** Sorted array of a set, for equality assertions. */
export function sorted(s: Iterable<number>): number[] {
  return [...s].sort((a, b) => a - b);
}

export { GvtgDriver };
