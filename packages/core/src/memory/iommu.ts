import { IOVA_LIMIT } from "../contract/dma-log-range.js";
import { MdevError } from "../errors/mdev-error.js";
import { setBitRange, u32ViewOf, word32Of } from "./bit-words.js";
import type { DirtyBitmap } from "./dirty-bitmap.js";
import {
  type DmaMapping,
  findMappingIndex,
  lowerBound,
  parseDmaMapRequest,
} from "./dma-mapping.js";
import { checkInteger, hex, PAGE_SIZE } from "./page.js";

/** Default most mappings per container: type1's `dma_entry_limit` (U16_MAX). */
export const DEFAULT_MAX_DMA_MAPPINGS = 65535;
/** Most pages one pin/unpin call may name: the kernel's VFIO_PIN_PAGES_MAX_ENTRIES. */
export const PIN_PAGES_MAX_ENTRIES = 512;

/** Options for {@link Iommu}. */
export interface IommuOptions {
  /** Guest RAM size in bytes: every mapping must land inside it. */
  readonly guestSize: number;
  /** Most mappings at once (ENOSPC beyond); default {@link DEFAULT_MAX_DMA_MAPPINGS}. */
  readonly maxMappings?: number;
}

/** A device registered with the container (a group attached to the type1 IOMMU). */
export interface IommuDevice {
  /** Name for messages, e.g. the device's slot. */
  readonly name: string;
  /**
   * Whether the device's driver pins every page it DMAs to. A device that does not
   * (plain passthrough) could write anywhere, so while it is attached type1 reports all
   * mapped memory dirty (`pinned_page_dirty_scope` false).
   */
  readonly pinsPages: boolean;
  /** Detaches the device from the container. */
  unregister(): void;
}

/**
 * A type1-style IOMMU container: IOVA → guest-physical mappings with permissions, page
 * pinning with reference counts, and `VFIO_IOMMU_DIRTY_PAGES` tracking.
 *
 * Its dirty tracking knows nothing of what devices write: it reports every page pinned
 * now or pinned since the last GET (a pinned page may be written at any time), or all
 * mapped memory when a non-pinning device is attached. CPU writes are the CPU dirty log's
 * business, not the IOMMU's.
 */
export class Iommu {
  /** Guest RAM size the mappings are checked against. */
  readonly guestSize: number;
  readonly #maxMappings: number;
  #mappings: DmaMapping[] = [];
  /** Pin reference count per IOVA page number. */
  readonly #pins = new Map<number, number>();
  /** IOVA pages pinned since the last GET (reported even if unpinned meanwhile). */
  readonly #pinnedSinceGet = new Set<number>();
  readonly #devices = new Set<IommuDevice>();
  #tracking = false;

  constructor(options: IommuOptions) {
    checkInteger("IOMMU guest size", options.guestSize, 0, Number.MAX_SAFE_INTEGER);
    const max = options.maxMappings ?? DEFAULT_MAX_DMA_MAPPINGS;
    checkInteger("IOMMU mapping limit", max, 1, 1 << 24);
    this.guestSize = options.guestSize;
    this.#maxMappings = max;
  }

  /** Current mappings in IOVA order. */
  get mappings(): readonly DmaMapping[] {
    return this.#mappings;
  }

  /** Whether dirty tracking is started. */
  get dirtyTracking(): boolean {
    return this.#tracking;
  }

  /**
   * Maps `[iova, iova + length)` to guest memory at `gpa` (`VFIO_IOMMU_MAP_DMA`).
   * EINVAL for a malformed request or one outside guest RAM, EOVERFLOW past the IOVA
   * space, EEXIST when it overlaps an existing mapping, ENOSPC past the mapping limit.
   */
  map(request: {
    iova: number;
    gpa: number;
    length: number;
    read?: boolean;
    write?: boolean;
  }): DmaMapping {
    const m = parseDmaMapRequest(request);
    if (m.gpa + m.length > this.guestSize) {
      throw new MdevError(
        "EINVAL",
        `DMA map {iova: ${hex(m.iova)}, gpa: ${hex(m.gpa)}, length: ${hex(m.length)}} reaches past guest RAM (${hex(this.guestSize)} bytes)`,
      );
    }
    const at = lowerBound(this.#mappings, m.iova);
    const next = this.#mappings[at];
    if (next !== undefined && next.iova < m.iova + m.length) {
      throw new MdevError(
        "EEXIST",
        `DMA map {iova: ${hex(m.iova)}, length: ${hex(m.length)}} overlaps mapping {iova: ${hex(next.iova)}, length: ${hex(next.length)}}`,
      );
    }
    if (this.#mappings.length >= this.#maxMappings) {
      throw new MdevError("ENOSPC", `IOMMU already holds ${this.#maxMappings} mappings`);
    }
    this.#mappings.splice(at, 0, m);
    return m;
  }

  /**
   * Removes the mappings inside `[iova, iova + length)` (`VFIO_IOMMU_UNMAP_DMA`, type1v2
   * rules): the range may not cut a mapping in two (EINVAL), must contain at least one
   * mapping (ENOENT), and none of its pages may be pinned (EBUSY: a device still uses
   * them; the driver must unpin first). Returns the removed mappings.
   */
  unmap(iova: number, length: number): DmaMapping[] {
    this.#checkAligned("unmap", iova, length);
    const end = iova + length;
    const first = lowerBound(this.#mappings, iova);
    let last = first;
    while (last < this.#mappings.length && this.#mappings[last]!.iova < end) last++;
    const hit = this.#mappings.slice(first, last);
    const cut = hit.find((m) => m.iova < iova || m.iova + m.length > end);
    if (cut !== undefined) {
      throw new MdevError(
        "EINVAL",
        `DMA unmap {iova: ${hex(iova)}, length: ${hex(length)}} would split mapping {iova: ${hex(cut.iova)}, length: ${hex(cut.length)}}`,
      );
    }
    if (hit.length === 0) {
      throw new MdevError(
        "ENOENT",
        `DMA unmap {iova: ${hex(iova)}, length: ${hex(length)}}: nothing is mapped there`,
      );
    }
    for (const page of this.#pins.keys()) {
      const a = page * PAGE_SIZE;
      if (a >= iova && a < end) {
        throw new MdevError(
          "EBUSY",
          `DMA unmap {iova: ${hex(iova)}, length: ${hex(length)}}: page ${hex(a)} is still pinned`,
        );
      }
    }
    for (const page of this.#pinnedSinceGet) {
      const a = page * PAGE_SIZE;
      if (a >= iova && a < end) this.#pinnedSinceGet.delete(page);
    }
    this.#mappings.splice(first, hit.length);
    return hit;
  }

  /** The mapping containing `iova`, if any. */
  find(iova: number): DmaMapping | undefined {
    const i = findMappingIndex(this.#mappings, iova);
    return i < 0 ? undefined : this.#mappings[i];
  }

  #checkAligned(op: string, iova: number, length: number): void {
    if (
      !Number.isSafeInteger(iova) ||
      !Number.isSafeInteger(length) ||
      iova < 0 ||
      length <= 0 ||
      iova % PAGE_SIZE !== 0 ||
      length % PAGE_SIZE !== 0
    ) {
      throw new MdevError(
        "EINVAL",
        `${op} {iova: ${iova}, length: ${length}} is not a non-empty 4 KiB-aligned range`,
      );
    }
    if (iova + length > IOVA_LIMIT) {
      throw new MdevError(
        "EOVERFLOW",
        `${op} {iova: ${hex(iova)}, length: ${hex(length)}} overflows the IOVA space`,
      );
    }
  }

  /** Attaches a device; see {@link IommuDevice.pinsPages} for what the flag changes. */
  registerDevice(name: string, options: { pinsPages: boolean }): IommuDevice {
    const device: IommuDevice = {
      name,
      pinsPages: options.pinsPages,
      unregister: () => {
        this.#devices.delete(device);
      },
    };
    this.#devices.add(device);
    return device;
  }

  /** True when every attached device pins its pages (type1's `pinned_page_dirty_scope`). */
  get pinnedPageDirtyScope(): boolean {
    for (const d of this.#devices) if (!d.pinsPages) return false;
    return true;
  }

  #checkPinArgs(op: string, iova: number, count: number): void {
    if (!Number.isSafeInteger(iova) || iova < 0 || iova % PAGE_SIZE !== 0) {
      throw new MdevError("EINVAL", `${op}: IOVA ${iova} is not a 4 KiB-aligned address`);
    }
    if (!Number.isSafeInteger(count) || count <= 0)
      throw new MdevError("EINVAL", `${op}: page count ${count} must be positive`);
    if (count > PIN_PAGES_MAX_ENTRIES) {
      throw new MdevError(
        "E2BIG",
        `${op}: ${count} pages at once, at most ${PIN_PAGES_MAX_ENTRIES}`,
      );
    }
  }

  /**
   * Pins `count` pages at `iova` (`vfio_pin_pages`): each must be mapped (EINVAL
   * otherwise, nothing pinned). Counts are per page, so nested pins need as many unpins.
   */
  pin(iova: number, count: number): void {
    this.#checkPinArgs("pin", iova, count);
    for (let i = 0; i < count; i++) {
      const a = iova + i * PAGE_SIZE;
      if (this.find(a) === undefined)
        throw new MdevError("EINVAL", `pin: IOVA ${hex(a)} is not mapped`);
    }
    const first = iova / PAGE_SIZE;
    for (let p = first; p < first + count; p++) {
      this.#pins.set(p, (this.#pins.get(p) ?? 0) + 1);
      if (this.#tracking) this.#pinnedSinceGet.add(p);
    }
  }

  /** Drops one pin from each of `count` pages at `iova`; EINVAL (nothing changed) if one is not pinned. */
  unpin(iova: number, count: number): void {
    this.#checkPinArgs("unpin", iova, count);
    const first = iova / PAGE_SIZE;
    for (let p = first; p < first + count; p++) {
      if (!this.#pins.has(p))
        throw new MdevError("EINVAL", `unpin: IOVA ${hex(p * PAGE_SIZE)} is not pinned`);
    }
    for (let p = first; p < first + count; p++) {
      const n = this.#pins.get(p)!;
      if (n === 1) this.#pins.delete(p);
      else this.#pins.set(p, n - 1);
    }
  }

  /** Pin reference count of the page at `iova`. */
  pinCount(iova: number): number {
    return this.#pins.get(Math.floor(iova / PAGE_SIZE)) ?? 0;
  }

  /** Number of distinct pinned pages. */
  get pinnedPages(): number {
    return this.#pins.size;
  }

  /** `VFIO_IOMMU_DIRTY_PAGES_FLAG_START`; idempotent, as in type1. */
  dirtyStart(): void {
    this.#tracking = true;
  }

  /** `VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP`; idempotent; forgets pages pinned since the last GET. */
  dirtyStop(): void {
    this.#tracking = false;
    this.#pinnedSinceGet.clear();
  }

  /**
   * `VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP` for `[iova, iova + length)`: ORs into
   * `bitmap` (bit n = IOVA `iova + n * 4096`) every page pinned now or since the last GET,
   * or every mapped page when a non-pinning device is attached. EINVAL when tracking is
   * off, `pageSize` is not the IOMMU page size (4096), the range cuts a mapping, or the
   * bitmap is too small.
   */
  getDirtyBitmap(iova: number, length: number, pageSize: number, bitmap: BigUint64Array): void {
    if (!this.#tracking) throw new MdevError("EINVAL", "IOMMU dirty tracking is not started");
    if (pageSize !== PAGE_SIZE)
      throw new MdevError(
        "EINVAL",
        `dirty bitmap page size ${pageSize} is not the IOMMU page size ${PAGE_SIZE}`,
      );
    this.#checkAligned("dirty bitmap", iova, length);
    const end = iova + length;
    for (const a of [iova, end - 1]) {
      const m = this.find(a);
      if (m !== undefined && (m.iova < iova || m.iova + m.length > end)) {
        throw new MdevError(
          "EINVAL",
          `dirty bitmap range {iova: ${hex(iova)}, length: ${hex(length)}} cuts mapping {iova: ${hex(m.iova)}, length: ${hex(m.length)}}`,
        );
      }
    }
    const pages = length / PAGE_SIZE;
    if (bitmap.length * 64 < pages)
      throw new MdevError("EINVAL", `bitmap of ${bitmap.length} words cannot hold ${pages} pages`);
    const words = u32ViewOf(bitmap);
    const base = iova / PAGE_SIZE;
    this.#forEachDirtyIovaRun(base, base + pages, (p, n) => setBitRange(words, p - base, n));
    for (const p of this.#pinnedSinceGet)
      if (p >= base && p < base + pages) this.#pinnedSinceGet.delete(p);
  }

  /**
   * The same report for the whole container, translated to guest page numbers and ORed
   * into `into` (a bitmap of the guest's pages): what the migration engine syncs.
   */
  getDirtyGuestPages(into: DirtyBitmap): void {
    if (!this.#tracking) throw new MdevError("EINVAL", "IOMMU dirty tracking is not started");
    if (!this.pinnedPageDirtyScope) {
      for (const m of this.#mappings) into.setRange(m.gpa / PAGE_SIZE, m.length / PAGE_SIZE);
    } else {
      // One lookup per pinned page, not one pass over the pins per mapping.
      const mark = (p: number): void => {
        const m = this.find(p * PAGE_SIZE);
        if (m !== undefined) into.set((m.gpa + p * PAGE_SIZE - m.iova) / PAGE_SIZE);
      };
      for (const p of this.#pins.keys()) mark(p);
      for (const p of this.#pinnedSinceGet) mark(p);
    }
    this.#pinnedSinceGet.clear();
  }

  /** Calls `fn(page, count)` for dirty IOVA pages in `[from, to)` (page numbers). */
  #forEachDirtyIovaRun(from: number, to: number, fn: (page: number, count: number) => void): void {
    if (!this.pinnedPageDirtyScope) {
      for (let i = lowerBound(this.#mappings, from * PAGE_SIZE); i < this.#mappings.length; i++) {
        const m = this.#mappings[i]!;
        const lo = Math.max(from, m.iova / PAGE_SIZE);
        const hi = Math.min(to, (m.iova + m.length) / PAGE_SIZE);
        if (lo >= to) break;
        if (hi > lo) fn(lo, hi - lo);
      }
      return;
    }
    const emit = (p: number): void => {
      if (p >= from && p < to) fn(p, 1);
    };
    for (const p of this.#pins.keys()) emit(p);
    for (const p of this.#pinnedSinceGet) if (!this.#pins.has(p)) emit(p);
  }

  /**
   * Translates a device-reported IOVA bitmap (bit n = `[iova + n * pageSize, +pageSize)`,
   * the DMA-logging REPORT format) into guest pages ORed into `into`, through the current
   * mappings; IOVAs with no mapping are skipped. This is the VMM's side of DMA logging.
   */
  iovaBitmapToGuest(
    iova: number,
    length: number,
    pageSize: number,
    bitmap: BigUint64Array,
    into: DirtyBitmap,
  ): void {
    checkInteger("report IOVA", iova, 0, IOVA_LIMIT);
    checkInteger("report length", length, 0, IOVA_LIMIT - iova);
    if (
      pageSize < PAGE_SIZE ||
      (pageSize & (pageSize - 1)) !== 0 ||
      !Number.isSafeInteger(pageSize)
    ) {
      throw new MdevError(
        "EINVAL",
        `report page size ${pageSize} must be a power of two of at least ${PAGE_SIZE}`,
      );
    }
    const bits = Math.ceil(length / pageSize);
    if (bitmap.length * 64 < bits)
      throw new MdevError("EINVAL", `bitmap of ${bitmap.length} words cannot hold ${bits} pages`);
    const words = u32ViewOf(bitmap);
    for (let n = 0; n < bits; n++) {
      const x = words[word32Of(n)]!;
      if (x === 0) {
        n |= 31; // skip the rest of an empty 32-bit word
        continue;
      }
      if ((x & (1 << (n & 31))) === 0) continue;
      const lo = iova + n * pageSize;
      const hi = Math.min(lo + pageSize, iova + length);
      this.#markGuest(lo, hi, into);
    }
  }

  #markGuest(lo: number, hi: number, into: DirtyBitmap): void {
    for (let i = lowerBound(this.#mappings, lo); i < this.#mappings.length; i++) {
      const m = this.#mappings[i]!;
      if (m.iova >= hi) break;
      const a = Math.max(lo, m.iova);
      const b = Math.min(hi, m.iova + m.length);
      const first = Math.floor((m.gpa + a - m.iova) / PAGE_SIZE);
      const last = Math.floor((m.gpa + b - 1 - m.iova) / PAGE_SIZE);
      into.setRange(first, last - first + 1);
    }
  }
}
