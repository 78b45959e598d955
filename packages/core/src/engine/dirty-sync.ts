import { MdevError } from "../errors/mdev-error.js";
import { DirtyBitmap } from "../memory/dirty-bitmap.js";
import { PAGE_SIZE } from "../memory/page.js";
import type { SimulatedVm, VmDevice } from "../vm/simulated-vm.js";

/**
 * Starts and reads every source of dirty pages of a VM the way QEMU's migration does:
 * the CPU dirty log, and for each device its own method — device DMA logging over the
 * guest's IOVA range, the IOMMU's pinned-page report, or the vendor's bitmap.
 *
 * Guest RAM is mapped 1:1 (IOVA = GPA), so IOVA pages are guest pages. A device whose
 * dirty report fails makes everything dirty: the uAPI's rule, and the only safe one.
 */
export class DirtySync {
  readonly #vm: SimulatedVm;
  readonly #scratch: DirtyBitmap;
  #iommuTracking = false;
  #started = false;
  /** Devices whose tracking failed; each sync then reports all memory dirty. */
  readonly failed = new Set<number>();

  constructor(vm: SimulatedVm) {
    this.#vm = vm;
    this.#scratch = new DirtyBitmap(vm.memory.pages);
  }

  /** Starts every dirty log; the CPU log starts with every page dirty. */
  async start(): Promise<void> {
    const { memory, iommu, devices } = this.#vm;
    memory.logStart();
    for (const d of devices) {
      try {
        if (d.plugin.dirtyTracking === "dma-logging") {
          await d.driver.logStart([{ iova: 0, length: memory.size }], PAGE_SIZE);
        } else if (d.plugin.dirtyTracking === "iommu-pinned" && !this.#iommuTracking) {
          iommu.dirtyStart();
          this.#iommuTracking = true;
        }
      } catch {
        this.failed.add(d.index);
      }
    }
    this.#started = true;
  }

  /** Stops every device dirty log (the CPU log simply stops being read). Never throws. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    for (const d of this.#vm.devices) {
      if (d.plugin.dirtyTracking === "dma-logging") await d.driver.logStop().catch(() => {});
    }
    if (this.#iommuTracking) this.#vm.iommu.dirtyStop();
    this.#iommuTracking = false;
  }

  /**
   * Read-and-clear of every log into `into` (bits are only added). Returns the number of
   * pages set in `into` afterwards.
   */
  async sync(into: DirtyBitmap): Promise<number> {
    if (!this.#started) throw new MdevError("EINVAL", "dirty tracking is not started");
    const { memory, iommu, devices } = this.#vm;
    memory.logReadAndClear(into);
    if (this.#iommuTracking) iommu.getDirtyGuestPages(into);
    for (const d of devices) await this.#syncDevice(d, into);
    if (this.failed.size > 0) into.setAll();
    return into.count();
  }

  async #syncDevice(d: VmDevice, into: DirtyBitmap): Promise<void> {
    if (this.failed.has(d.index)) return;
    try {
      if (d.plugin.dirtyTracking === "dma-logging") {
        this.#scratch.clear();
        await d.driver.logReadAndClear(
          0,
          this.#vm.memory.size,
          PAGE_SIZE,
          this.#scratch.asBigUint64Array(),
        );
        into.union(this.#scratch);
      } else if (d.plugin.dirtyTracking === "vendor-bitmap") {
        if (d.driver.reportDirtyPages === undefined)
          throw new MdevError("ENOTSUP", "vendor-bitmap driver has no reportDirtyPages");
        this.#scratch.clear();
        await d.driver.reportDirtyPages(this.#scratch.asBigUint64Array());
        into.union(this.#scratch);
      }
    } catch {
      this.failed.add(d.index);
    }
  }
}
