import type { DmaLogRange } from "../contract/dma-log-range.js";
import { isMdevError, MdevError } from "../errors/mdev-error.js";
import { DirtyBitmap } from "../memory/dirty-bitmap.js";
import { PAGE_SIZE } from "../memory/page.js";
import type { SimulatedVm, VmDevice } from "../vm/simulated-vm.js";
import { DeviceCallGuard } from "./device-call-guard.js";

/**
 * Starts and reads every source of dirty pages of a VM the way QEMU's migration does:
 * the CPU dirty log, and for each device the method it was created with — device DMA
 * logging over the IOVA ranges the IOMMU maps, the IOMMU's pinned-page report, or the
 * vendor's bitmap.
 *
 * Guest RAM is mapped 1:1 (IOVA = GPA), so IOVA pages are guest pages. A device whose
 * dirty tracking fails to start or to report makes everything dirty from then on: the
 * uAPI's rule, and the only safe one.
 */
export class DirtySync {
  readonly #vm: SimulatedVm;
  readonly #scratch: DirtyBitmap;
  /** The pages still pending in the caller's bitmap that a device reported. */
  readonly #byDevices: DirtyBitmap;
  /** What the IOMMU reported at the last sync. */
  readonly #byIommu: DirtyBitmap;
  #deviceDirtyPages = 0;
  #iommuTracking = false;
  #started = false;
  /** Devices whose tracking failed; each sync then reports all memory dirty. */
  readonly failed = new Set<number>();

  constructor(vm: SimulatedVm) {
    this.#vm = vm;
    this.#scratch = new DirtyBitmap(vm.memory.pages);
    this.#byDevices = new DirtyBitmap(vm.memory.pages);
    this.#byIommu = new DirtyBitmap(vm.memory.pages);
  }

  /**
   * The pages the IOMMU reported at the last sync (before the first, those pinned when
   * tracking started): every page pinned now or since the sync before (or all mapped
   * memory with a device that does not pin), written or not.
   */
  get iommuReported(): DirtyBitmap {
    return this.#byIommu;
  }

  /**
   * Of the pages set in the bitmap after the last sync, those a device reported — DMA
   * logs, the IOMMU's pinned pages, vendor bitmaps; every page once a device's tracking
   * failed — in that sync or an earlier one whose pages the caller has not cleared yet,
   * whether or not a vCPU wrote them too. No vCPU throttle makes a device report fewer.
   */
  get deviceDirtyPages(): number {
    return this.#deviceDirtyPages;
  }

  /** Starts every dirty log; the CPU log starts with every page dirty. */
  async start(): Promise<void> {
    const { memory, iommu, devices } = this.#vm;
    memory.logStart();
    for (const d of devices) {
      try {
        switch (d.driver.dirtyTracking) {
          case "dma-logging":
            await startDmaLogging(d, mappedRanges(this.#vm));
            break;
          case "iommu-pinned":
            if (!this.#iommuTracking) {
              iommu.dirtyStart();
              // What is pinned already, so the first pass knows it before the first sync
              // (which reports these pages again while they stay pinned).
              iommu.getDirtyGuestPages(this.#byIommu);
            }
            this.#iommuTracking = true;
            break;
          case "vendor-bitmap":
            await d.driver.vendorDirtyStart();
            break;
        }
      } catch {
        this.failed.add(d.index);
      }
    }
    this.#started = true;
  }

  /**
   * Stops every dirty log (the CPU log simply stops being read). Never throws. Each driver
   * call goes through `guard`; a device it holds busy is not called, and one it gives up on
   * is left running its log: the late recovery after its call stops it
   * ({@link stopDeviceDirtyLog}).
   */
  async stop(guard: DeviceCallGuard = DeviceCallGuard.unbounded()): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    for (const d of this.#vm.devices) {
      if (guard.isBusy(d)) continue;
      await guard.run(d, () => stopDeviceDirtyLog(d)).catch(() => {});
    }
    if (this.#iommuTracking) this.#vm.iommu.dirtyStop();
    this.#iommuTracking = false;
  }

  /**
   * Read-and-clear of every log into `into` (bits are only added). Returns the number of
   * pages set in `into` afterwards. Each driver call goes through `guard`: once it aborts,
   * the sync fails with its reason instead of counting the device's log as failed.
   */
  async sync(
    into: DirtyBitmap,
    guard: DeviceCallGuard = DeviceCallGuard.unbounded(),
  ): Promise<number> {
    if (!this.#started) throw new MdevError("EINVAL", "dirty tracking is not started");
    const { memory, iommu, devices } = this.#vm;
    // Pages the caller cleared (sent) since the last sync are no longer the devices' share;
    // those it kept, from a sync without a pass between, still are.
    const byDevices = this.#byDevices.intersect(into);
    memory.logReadAndClear(into);
    this.#byIommu.clear();
    if (this.#iommuTracking) {
      iommu.getDirtyGuestPages(this.#byIommu);
      byDevices.union(this.#byIommu);
    }
    for (const d of devices) await this.#syncDevice(d, byDevices, guard);
    if (this.failed.size > 0) byDevices.setAll();
    this.#deviceDirtyPages = byDevices.count();
    into.union(byDevices);
    return into.count();
  }

  async #syncDevice(d: VmDevice, into: DirtyBitmap, guard: DeviceCallGuard): Promise<void> {
    if (this.failed.has(d.index)) return;
    try {
      if (d.driver.dirtyTracking === "dma-logging") {
        this.#scratch.clear();
        await guard.run(d, () =>
          d.driver.logReadAndClear(
            0,
            this.#vm.memory.size,
            PAGE_SIZE,
            this.#scratch.asBigUint64Array(),
          ),
        );
        into.union(this.#scratch);
      } else if (d.driver.dirtyTracking === "vendor-bitmap") {
        this.#scratch.clear();
        await guard.run(d, () => d.driver.reportDirtyPages(this.#scratch.asBigUint64Array()));
        into.union(this.#scratch);
      }
    } catch (err) {
      if (guard.aborted) throw err;
      this.failed.add(d.index);
    }
  }
}

/**
 * Stops the dirty log `d`'s driver keeps (DMA logging or the vendor bitmap); nothing for
 * a device the IOMMU tracks, whose log is the VM's. A log that is not running is left so.
 */
export async function stopDeviceDirtyLog(d: VmDevice): Promise<void> {
  if (d.driver.dirtyTracking === "dma-logging") await d.driver.logStop();
  if (d.driver.dirtyTracking === "vendor-bitmap") await d.driver.vendorDirtyStop();
}

/** The IOVA ranges the IOMMU maps, adjacent mappings joined, in address order. */
export function mappedRanges(vm: SimulatedVm): DmaLogRange[] {
  const sorted = [...vm.iommu.mappings].sort((a, b) => a.iova - b.iova);
  const ranges: { iova: number; length: number }[] = [];
  for (const m of sorted) {
    const last = ranges[ranges.length - 1];
    if (last !== undefined && last.iova + last.length === m.iova) last.length += m.length;
    else ranges.push({ iova: m.iova, length: m.length });
  }
  return ranges;
}

/**
 * Merges `ranges` into at most `limit` by closing the smallest gaps first: the ranges then
 * cover some unmapped IOVA space, which a device never writes, so nothing is lost.
 */
export function mergeRanges(ranges: readonly DmaLogRange[], limit: number): DmaLogRange[] {
  const out = ranges.map((r) => ({ iova: r.iova, length: r.length }));
  while (out.length > Math.max(1, limit)) {
    let best = 0;
    for (let i = 1; i < out.length - 1; i++) {
      const gap = (k: number) => out[k + 1]!.iova - (out[k]!.iova + out[k]!.length);
      if (gap(i) < gap(best)) best = i;
    }
    const a = out[best]!;
    const b = out[best + 1]!;
    a.length = b.iova + b.length - a.iova;
    out.splice(best + 1, 1);
  }
  return out;
}

/**
 * DMA_LOGGING_START over `ranges`; a device that tracks fewer ranges (E2BIG) is asked again
 * with the ranges merged to half as many each time, down to one covering them all — what
 * QEMU does when a device's range limit is below the VM's mapping count.
 */
async function startDmaLogging(d: VmDevice, ranges: DmaLogRange[]): Promise<void> {
  let attempt = ranges;
  for (;;) {
    try {
      await d.driver.logStart(attempt, PAGE_SIZE);
      return;
    } catch (err) {
      if (!isMdevError(err, "E2BIG") || attempt.length <= 1) throw err;
      attempt = mergeRanges(attempt, Math.floor(attempt.length / 2));
    }
  }
}
