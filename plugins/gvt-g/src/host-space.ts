/**
 * What one host gives one vGPU and never migrates: host DMA addresses of pinned guest
 * pages (kvmgt's `gvt_dma` cache), shadow page-table frames, the vGPU's slice of the
 * host's graphics memory (the partition offset) and the host mapping of the OpRegion.
 *
 * Every value is drawn from a per-host-instance base, so two hosts (source and target,
 * in one process or two) hand out different numbers for the same guest frame — which is
 * what makes a stream that carries one of them detectably wrong.
 */
import { randomBytes } from "node:crypto";
import { MdevError, PIN_PAGES_MAX_ENTRIES } from "@mdevkit/core";

/** Host page size. */
const PAGE = 4096;
/** The host keeps the first 128 MiB of aperture and 384 MiB of hidden memory (HOST_LOW/HIGH_GM_SIZE). */
export const HOST_LOW_GM_BYTES = 128 * 2 ** 20;
/** Hidden graphics memory the host keeps. */
export const HOST_HIGH_GM_BYTES = 384 * 2 ** 20;

let instances = 0;
const processNonce = randomBytes(4).readUInt32LE(0);

/** One cached DMA mapping of a guest frame. */
interface DmaEntry {
  readonly dmaAddr: number;
  refs: number;
}

/** Callbacks into the host IOMMU for pinned-page tracking (absent for vendor-bitmap). */
export interface PinPort {
  /** Pins the `count` guest frames from `gfn` on. */
  pin(gfn: number, count: number): void;
  unpin(gfn: number): void;
}

/**
 * The host side of one vGPU: allocator of host-only numbers plus the DMA-mapping cache
 * with its pin reference counts (one pin per distinct guest frame, like kvmgt).
 */
export class HostSpace {
  /** Partition offset of the vGPU's aperture slice in host graphics memory. */
  readonly apertureBase: number;
  /** Partition offset of the vGPU's hidden slice. */
  readonly hiddenBase: number;
  /** Host virtual address the OpRegion is mapped at, once mapped. */
  opregionVa = 0;
  readonly #dmaBasePfn: number;
  readonly #mfnBase: number;
  #nextDmaPfn = 0;
  #nextMfn = 0;
  readonly #byGfn = new Map<number, DmaEntry>();
  /** Reverse map keyed by DMA page number (a small integer, which Map hashes fast). */
  readonly #gfnByDmaPfn = new Map<number, number>();
  readonly #pins: PinPort | undefined;

  constructor(lowGmBytes: number, highGmBytes: number, pins: PinPort | undefined) {
    const n = instances++;
    const salt = (processNonce ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0;
    // Slot k of the host's partition table: the host's own share first, as GVT-g allocates.
    const slot = 1 + (salt % 5);
    this.apertureBase = HOST_LOW_GM_BYTES + slot * lowGmBytes;
    this.hiddenBase = 2 ** 32 + HOST_HIGH_GM_BYTES + slot * highGmBytes;
    // IOVA space of the host IOMMU domain: somewhere between 64 GiB and 1 TiB.
    this.#dmaBasePfn = 0x100_0000 + (salt % 0xe00_0000);
    this.#mfnBase = 0x400_0000 + ((salt >>> 7) % 0x100_0000);
    this.#pins = pins;
  }

  /** DMA-maps guest frame `gfn` (pinning it on first use); returns its host DMA address. */
  map(gfn: number): number {
    if (!this.#byGfn.has(gfn)) this.#pins?.pin(gfn, 1);
    return this.#reference(gfn);
  }

  /**
   * {@link map} for many frames at once (a restore re-emulating a whole GGTT, inside the
   * downtime): the frames mapped for the first time are pinned in runs of adjacent frames,
   * one call through pinner and IOMMU a run instead of one a frame (runs are cut at the
   * kernel's `vfio_pin_pages` limit). Returns each frame's DMA address, in `gfns` order.
   */
  mapMany(gfns: readonly number[]): number[] {
    if (this.#pins !== undefined) {
      const fresh = [...new Set(gfns.filter((g) => !this.#byGfn.has(g)))].sort((a, b) => a - b);
      for (let k = 0; k < fresh.length; ) {
        let n = 1;
        while (
          n < PIN_PAGES_MAX_ENTRIES &&
          k + n < fresh.length &&
          fresh[k + n] === (fresh[k] as number) + n
        )
          n++;
        this.#pins.pin(fresh[k] as number, n);
        k += n;
      }
    }
    return gfns.map((gfn) => this.#reference(gfn));
  }

  /** One more reference to `gfn`'s mapping, made (the frame already pinned) on first use. */
  #reference(gfn: number): number {
    const hit = this.#byGfn.get(gfn);
    if (hit) {
      hit.refs++;
      return hit.dmaAddr;
    }
    const dmaAddr = (this.#dmaBasePfn + this.#nextDmaPfn++) * PAGE;
    this.#byGfn.set(gfn, { dmaAddr, refs: 1 });
    this.#gfnByDmaPfn.set(dmaAddr / PAGE, gfn);
    return dmaAddr;
  }

  /** Drops one reference to `gfn`'s mapping; unpins when the last one goes. */
  unmap(gfn: number): void {
    const hit = this.#byGfn.get(gfn);
    if (!hit)
      throw new MdevError("EIO", `gvt-g bug: unmap of guest frame ${gfn} that is not mapped`);
    if (--hit.refs > 0) return;
    this.#byGfn.delete(gfn);
    this.#gfnByDmaPfn.delete(hit.dmaAddr / PAGE);
    this.#pins?.unpin(gfn);
  }

  /** The guest frame behind host DMA address `dmaAddr` (what the IOMMU translates to). */
  gfnOf(dmaAddr: number): number | undefined {
    return this.#gfnByDmaPfn.get(dmaAddr / PAGE);
  }

  /** A fresh shadow page frame (host memory for a shadow page table). */
  allocMfn(): number {
    return this.#mfnBase + this.#nextMfn++;
  }

  /** Guest frames currently DMA-mapped (= pinned under iommu-pinned tracking). */
  mappedGfns(): number[] {
    return [...this.#byGfn.keys()];
  }

  /** Sum of all mapping references. */
  get totalRefs(): number {
    let n = 0;
    for (const e of this.#byGfn.values()) n += e.refs;
    return n;
  }

  /** Every host DMA address handed out and still mapped. */
  dmaAddresses(): number[] {
    return [...this.#gfnByDmaPfn.keys()].map((pfn) => pfn * PAGE);
  }
}
