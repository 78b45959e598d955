import type { PagePinner } from "../contract/device-context.js";
import { MdevError } from "../errors/mdev-error.js";
import type { Iommu, IommuDevice } from "./iommu.js";
import { PAGE_SIZE } from "./page.js";

/**
 * {@link PagePinner} for one device over the container's {@link Iommu}: what a host puts
 * in `DeviceContext.pinner` for plugins whose dirty tracking is `"iommu-pinned"`.
 * Registers the device as a pinning one and remembers its own pins, so that
 * {@link release} can drop them when the device goes away (an unmap of pinned pages is
 * refused with EBUSY until then).
 */
export class IommuPagePinner implements PagePinner {
  readonly iommu: Iommu;
  readonly device: IommuDevice;
  /** This device's pin count per IOVA page number. */
  readonly #own = new Map<number, number>();

  constructor(iommu: Iommu, name: string) {
    this.iommu = iommu;
    this.device = iommu.registerDevice(name, { pinsPages: true });
  }

  pin(iova: number, count: number): void {
    this.iommu.pin(iova, count);
    for (let p = iova / PAGE_SIZE; p < iova / PAGE_SIZE + count; p++)
      this.#own.set(p, (this.#own.get(p) ?? 0) + 1);
  }

  unpin(iova: number, count: number): void {
    const first = iova / PAGE_SIZE;
    for (let p = first; p < first + count; p++) {
      if (!this.#own.has(p))
        throw new MdevError(
          "EINVAL",
          `unpin: device ${this.device.name} did not pin IOVA 0x${(p * PAGE_SIZE).toString(16)}`,
        );
    }
    this.iommu.unpin(iova, count);
    for (let p = first; p < first + count; p++) {
      const n = this.#own.get(p)!;
      if (n === 1) this.#own.delete(p);
      else this.#own.set(p, n - 1);
    }
  }

  /** Pages this device holds pinned. */
  get pinnedPages(): number {
    return this.#own.size;
  }

  /** Drops every pin this device holds and detaches it from the container. */
  release(): void {
    for (const [p, n] of this.#own) for (let i = 0; i < n; i++) this.iommu.unpin(p * PAGE_SIZE, 1);
    this.#own.clear();
    this.device.unregister();
  }
}
