/**
 * Per-process GTTs (PPGTT): the guest's page tables live in guest RAM; the vGPU keeps,
 * per address space (`intel_vgpu_mm`), the guest's roots and — built on first use — a
 * shadow table whose leaves hold host DMA addresses, with every guest page-table page
 * write-protected so guest edits are trapped and mirrored (`ppgtt_populate_spt`,
 * `ppgtt_handle_guest_write_page_table`).
 *
 * Only the roots are guest state; shadow pages, their frames and the write-protection
 * set are rebuilt on the target from guest memory.
 */
import { MdevError } from "@mdevkit/core";
import type { HostSpace } from "./host-space.js";

/** Page-table entries per 4 KiB page. */
export const PT_ENTRIES = 512;
/** Root types: L3 (four PDP roots, 32-bit GMA) and L4 (one PML4 root, 48-bit GMA). */
export type RootType = 3 | 4;

/** One guest address space. */
export interface PpgttMm {
  readonly rootType: RootType;
  /** Guest-physical addresses of the roots (`guest_pdps[4]`; L4 uses only [0]). */
  readonly pdps: readonly number[];
}

/** A shadow page: what the GPU walks instead of the guest page. */
interface ShadowPage {
  readonly mm: number;
  /** 4 = PML4, 3 = PDP, 2 = PD, 1 = PT (leaves). */
  readonly level: number;
  /** Host frame of the shadow page. */
  readonly mfn: number;
  /** Shadow entries: child shadow frame address, or leaf host DMA address; 0 = not present. */
  readonly shadow: Float64Array;
  /** Leaf level: guest frame each shadow entry maps, +1 (0 = none). */
  readonly leafGfn: Float64Array;
}

/** Reads 4 KiB of guest memory (undefined on an IOMMU fault). */
export type GuestPageReader = (gfn: number) => Uint8Array | undefined;

/** Entry `i` of a guest page-table page: guest frame if present, else undefined. */
function entryOf(page: Uint8Array, i: number): number | undefined {
  const v = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const lo = v.getUint32(i * 8, true);
  const hi = v.getUint32(i * 8 + 4, true);
  if ((lo & 1) === 0) return undefined;
  return (hi & 0x7f) * 2 ** 20 + (lo >>> 12);
}

/** Index into the table of `level` for graphics address `gma`. */
function indexAt(gma: number, level: number): number {
  return Math.floor(gma / 2 ** (12 + 9 * (level - 1))) % PT_ENTRIES;
}

/** PPGTT state of one vGPU: guest roots (migrated) and shadows (host-only). */
export class Ppgtt {
  /** Address spaces by id (the guest's context → mm choice); undefined until first used. */
  readonly mms: (PpgttMm | undefined)[];
  readonly #shadowed = new Set<number>();
  /** Shadow page by guest page-table frame: also the write-protection set. */
  readonly #spt = new Map<number, ShadowPage>();
  readonly #host: HostSpace;
  readonly #guestPages: number;

  constructor(maxMms: number, host: HostSpace, guestPages: number) {
    this.mms = Array.from({ length: maxMms }, () => undefined);
    this.#host = host;
    this.#guestPages = guestPages;
  }

  /** Finds or creates mm `id` with the given roots (`intel_vgpu_get_ppgtt_mm`). */
  getMm(id: number, rootType: RootType, pdps: readonly number[]): PpgttMm {
    if (!Number.isInteger(id) || id < 0 || id >= this.mms.length) {
      throw new MdevError("EINVAL", `PPGTT mm ${id} is outside the vGPU's ${this.mms.length}`);
    }
    const mm = this.mms[id];
    if (mm && mm.rootType === rootType && mm.pdps.every((p, i) => p === pdps[i])) return mm;
    if (mm) this.unshadow(id);
    const created: PpgttMm = { rootType, pdps: [...pdps] };
    this.mms[id] = created;
    return created;
  }

  /** Whether mm `id` has a shadow table. */
  isShadowed(id: number): boolean {
    return this.#shadowed.has(id);
  }

  /** Builds the shadow of mm `id` from guest memory, pinning every leaf (no-op if shadowed). */
  shadow(id: number, read: GuestPageReader): void {
    const mm = this.mms[id];
    if (!mm || this.#shadowed.has(id)) return;
    this.#shadowed.add(id);
    const roots = mm.rootType === 4 ? [mm.pdps[0]!] : mm.pdps;
    const level = mm.rootType === 4 ? 4 : 2;
    for (const pdp of roots) if (pdp !== 0) this.#populate(id, Math.floor(pdp / 4096), level, read);
  }

  #populate(mm: number, gfn: number, level: number, read: GuestPageReader): number {
    const existing = this.#spt.get(gfn);
    if (existing) return existing.mfn;
    const page = gfn < this.#guestPages ? read(gfn) : undefined;
    const sp: ShadowPage = {
      mm,
      level,
      mfn: this.#host.allocMfn(),
      shadow: new Float64Array(PT_ENTRIES),
      leafGfn: new Float64Array(level === 1 ? PT_ENTRIES : 0),
    };
    this.#spt.set(gfn, sp);
    if (!page) return sp.mfn;
    for (let i = 0; i < PT_ENTRIES; i++) {
      const child = entryOf(page, i);
      if (child === undefined) continue;
      this.#setEntry(sp, i, child, read);
    }
    return sp.mfn;
  }

  #setEntry(sp: ShadowPage, i: number, child: number | undefined, read: GuestPageReader): void {
    if (sp.level === 1) {
      const old = sp.leafGfn[i]!;
      if (old !== 0) this.#host.unmap(old - 1);
      sp.leafGfn[i] = 0;
      sp.shadow[i] = 0;
      if (child !== undefined && child < this.#guestPages) {
        sp.shadow[i] = this.#host.map(child);
        sp.leafGfn[i] = child + 1;
      }
    } else if (child !== undefined) {
      sp.shadow[i] = this.#populate(sp.mm, child, sp.level - 1, read) * 4096;
    } else {
      sp.shadow[i] = 0;
    }
  }

  /**
   * A trapped guest write to page-table frame `gfn` (already in guest memory): mirrors
   * leaf changes into the shadow; a changed upper level drops the mm's shadow, rebuilt
   * on next use. Returns whether the frame was write-protected.
   */
  onGuestWrite(gfn: number, index: number, read: GuestPageReader): boolean {
    const sp = this.#spt.get(gfn);
    if (!sp) return false;
    if (sp.level !== 1) {
      this.unshadow(sp.mm);
      return true;
    }
    const page = read(gfn);
    this.#setEntry(sp, index, page ? entryOf(page, index) : undefined, read);
    return true;
  }

  /** Drops mm `id`'s shadow: unpins its leaves and lifts write protection. */
  unshadow(id: number): void {
    if (!this.#shadowed.delete(id)) return;
    for (const [gfn, sp] of this.#spt) {
      if (sp.mm !== id) continue;
      for (const g of sp.leafGfn) if (g !== 0) this.#host.unmap(g - 1);
      this.#spt.delete(gfn);
    }
  }

  /** Drops every mm and shadow (power-on or before a restore). */
  clear(): void {
    for (let id = 0; id < this.mms.length; id++) this.unshadow(id);
    this.mms.fill(undefined);
  }

  /** Guest frames currently write-protected. */
  writeProtected(): Set<number> {
    return new Set(this.#spt.keys());
  }

  /** Guest frames of shadowed leaves (pinned by the shadow). */
  shadowLeafGfns(): Set<number> {
    const out = new Set<number>();
    for (const sp of this.#spt.values()) for (const g of sp.leafGfn) if (g !== 0) out.add(g - 1);
    return out;
  }

  /** Every shadow page frame address (host-only values). */
  shadowFrames(): number[] {
    return [...this.#spt.values()].map((s) => s.mfn * 4096);
  }

  /** Guest frame `gma` maps to when walking the guest's own tables of mm `id`. */
  guestWalk(id: number, gma: number, read: GuestPageReader): number | undefined {
    const mm = this.mms[id];
    if (!mm) return undefined;
    let gfn: number | undefined;
    let level: number;
    if (mm.rootType === 4) {
      gfn = Math.floor(mm.pdps[0]! / 4096);
      level = 4;
    } else {
      const root = mm.pdps[indexAt(gma, 3) % 4]!;
      if (root === 0) return undefined;
      gfn = Math.floor(root / 4096);
      level = 2;
    }
    for (; level >= 1; level--) {
      const page = read(gfn);
      if (!page) return undefined;
      gfn = entryOf(page, indexAt(gma, level));
      if (gfn === undefined) return undefined;
    }
    return gfn;
  }

  /** Guest frame the GPU reaches for `gma` through mm `id`'s shadow, or undefined. */
  shadowWalk(id: number, gma: number): number | undefined {
    const mm = this.mms[id];
    if (!mm || !this.#shadowed.has(id)) return undefined;
    const rootGfn = Math.floor(
      (mm.rootType === 4 ? mm.pdps[0]! : mm.pdps[indexAt(gma, 3) % 4]!) / 4096,
    );
    const byMfn = new Map<number, ShadowPage>();
    for (const sp of this.#spt.values()) if (sp.mm === id) byMfn.set(sp.mfn, sp);
    let sp = this.#spt.get(rootGfn);
    while (sp) {
      const e = sp.shadow[indexAt(gma, sp.level)]!;
      if (e === 0) return undefined;
      if (sp.level === 1) return this.#host.gfnOf(e);
      sp = byMfn.get(e / 4096);
    }
    return undefined;
  }
}
