/**
 * The vGPU's global GTT: the guest's 8-byte PTEs over its partition (`virtual_ggtt`), the
 * host PTEs built from them (host DMA address of each present guest frame, or the
 * scratch page), and the half-written PTEs the guest left with a 4-byte write
 * (`partial_pte_list`).
 *
 * Gen8 PTE: bit 0 present, bits 1–5 PAT/cache, bits 12–38 the guest frame.
 */
import { MdevError } from "@mdevkit/core";
import type { HostSpace } from "./host-space.js";

/** PTE present bit. */
export const PTE_PRESENT = 0x1;
/** PAT/cache bits the guest uses for normal write-back memory. */
export const PTE_WB = 0x2;
/** Highest guest frame a Gen8 PTE can carry (39-bit addresses). */
export const MAX_PTE_GFN = 2 ** 27 - 1;

/** The 8-byte PTE for `gfn` as (lo, hi). */
export function pteOf(gfn: number): [number, number] {
  return [
    ((gfn & 0xfffff) * 4096 + (PTE_PRESENT | PTE_WB)) >>> 0,
    Math.floor(gfn / 2 ** 20) & 0x7f,
  ];
}

/** The guest frame of PTE (lo, hi). */
export function gfnOfPte(lo: number, hi: number): number {
  return (hi & 0x7f) * 2 ** 20 + (lo >>> 12);
}

/** GGTT state of one vGPU. */
export class Ggtt {
  /** Entry count of the partition. */
  readonly entries: number;
  /** Guest PTEs as (lo, hi) dword pairs — the wire layout of the `ggtt` section. */
  readonly virtual: Uint32Array;
  /** Host PTEs: host DMA address of the mapped frame, or 0 for the scratch page. Never migrated. */
  readonly host: Float64Array;
  /** First halves of PTEs written with a 4-byte store, by entry index. */
  readonly partial = new Map<number, number>();
  /** Entries rewritten since the last {@link takeDirty} while tracking (precopy deltas). */
  readonly #dirty = new Set<number>();
  #tracking = false;
  readonly #host: HostSpace;
  readonly #guestPages: number;

  constructor(entries: number, host: HostSpace, guestPages: number) {
    this.entries = entries;
    this.virtual = new Uint32Array(entries * 2);
    this.host = new Float64Array(entries);
    this.#host = host;
    this.#guestPages = guestPages;
  }

  /** Whether entry `i` is present in the guest's table. */
  present(i: number): boolean {
    return (this.virtual[2 * i]! & PTE_PRESENT) !== 0;
  }

  /** Guest frame entry `i` maps (meaningful when present). */
  gfn(i: number): number {
    return gfnOfPte(this.virtual[2 * i]!, this.virtual[2 * i + 1]!);
  }

  #check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.entries) {
      throw new MdevError(
        "EINVAL",
        `GGTT index ${i} is outside the partition's ${this.entries} entries`,
      );
    }
  }

  /**
   * A trapped guest write of `size` bytes at byte `offset` of the GTT window
   * (`emulate_ggtt_mmio_write`): 8 bytes replace a PTE; a 4-byte low half is parked
   * until its high half arrives, then the two are applied together.
   */
  mmioWrite(offset: number, size: 4 | 8, lo: number, hi = 0): void {
    if (offset % size !== 0)
      throw new MdevError("EINVAL", `unaligned ${size}-byte GTT write at ${offset}`);
    const i = Math.floor(offset / 8);
    this.#check(i);
    if (size === 8) {
      this.partial.delete(i);
      this.#apply(i, lo >>> 0, hi >>> 0);
    } else if (offset % 8 === 0) {
      this.partial.set(i, lo >>> 0);
    } else {
      const low = this.partial.get(i) ?? this.virtual[2 * i]!;
      this.partial.delete(i);
      this.#apply(i, low, lo >>> 0);
    }
  }

  /** Stores a complete PTE and rebuilds its host entry (release old mapping, map new). */
  #apply(i: number, lo: number, hi: number): void {
    this.#unmapHost(i);
    this.virtual[2 * i] = lo;
    this.virtual[2 * i + 1] = hi;
    this.#mapHost(i);
    if (this.#tracking) this.#dirty.add(i);
  }

  #mapHost(i: number): void {
    if (!this.present(i)) return;
    const gfn = this.gfn(i);
    // A frame outside guest RAM cannot be mapped: GVT-g points the host PTE at scratch.
    this.host[i] = gfn < this.#guestPages ? this.#host.map(gfn) : 0;
  }

  #unmapHost(i: number): void {
    if (this.host[i] !== 0) this.#host.unmap(this.gfn(i));
    this.host[i] = 0;
  }

  /** Guest frame the GPU reaches through entry `i` (via the host PTE), or undefined (scratch). */
  hostGfn(i: number): number | undefined {
    this.#check(i);
    const dma = this.host[i]!;
    return dma === 0 ? undefined : this.#host.gfnOf(dma);
  }

  /** Starts recording rewritten entries (precopy). */
  startTracking(): void {
    this.#dirty.clear();
    this.#tracking = true;
  }

  /** Stops recording. */
  stopTracking(): void {
    this.#tracking = false;
    this.#dirty.clear();
  }

  /** Entries rewritten since the last call, ascending; clears them. */
  takeDirty(): number[] {
    const out = [...this.#dirty].sort((a, b) => a - b);
    this.#dirty.clear();
    return out;
  }

  /** Entries waiting in the dirty set. */
  get dirtyCount(): number {
    return this.#dirty.size;
  }

  /** Drops every host mapping and clears the table (power-on, or before a restore). */
  clear(): void {
    // Walking 163,840 entries of an empty table is wasted time on the restore path.
    if (this.#host.totalRefs > 0) for (let i = 0; i < this.entries; i++) this.#unmapHost(i);
    this.virtual.fill(0);
    this.partial.clear();
    this.#dirty.clear();
  }

  /**
   * Restores guest PTEs and partial PTEs from a migration image and re-emulates every
   * entry that differs from the table's: all present ones on a fresh table, and on a
   * target that {@link preload}ed the GGTT sent during precopy, only the entries rewritten
   * since — the rest of the pinning and DMA-mapping was done before the downtime. Given
   * `rewritten`, the entries written since the table was preloaded, only those are
   * compared: the caller vouches that every other entry already equals `virtual`'s.
   */
  restore(
    virtual: Uint32Array,
    partial: ReadonlyMap<number, number>,
    rewritten?: readonly number[],
  ): void {
    this.#sync(virtual, rewritten);
    this.partial.clear();
    this.#dirty.clear();
    for (const [i, lo] of partial) this.partial.set(i, lo);
  }

  /**
   * Takes the guest PTEs of a GGTT received during precopy (RESUMING, nothing runs), pinning
   * and DMA-mapping their frames ahead of the final {@link restore}. The driver puts the old
   * PTEs back the same way when the load is refused; a reset drops them all. Given
   * `rewritten`, only those entries are compared, as in {@link restore}.
   */
  preload(virtual: Uint32Array, rewritten?: readonly number[]): void {
    this.#sync(virtual, rewritten);
  }

  /**
   * Makes the guest PTEs equal `virtual`, re-emulating each entry that changes; with
   * `only`, looks at those entries alone.
   */
  #sync(virtual: Uint32Array, only?: readonly number[]): void {
    const v = this.virtual;
    // One pass over the raw PTEs, then one batch of mappings: on a fresh target this runs
    // in cold code over every entry of the partition.
    const changed: Changed = { mapped: [], gfns: [] };
    const n = only?.length ?? this.entries;
    for (let k = 0; k < n; k++) {
      const i = only === undefined ? k : (only[k] as number);
      if (virtual[2 * i] !== v[2 * i] || virtual[2 * i + 1] !== v[2 * i + 1])
        this.#take(i, virtual, changed);
    }
    const dma = this.#host.mapMany(changed.gfns);
    for (let k = 0; k < changed.mapped.length; k++)
      this.host[changed.mapped[k] as number] = dma[k] as number;
  }

  /** Takes entry `i` of `virtual`: unmaps the old frame and queues the new one's mapping. */
  #take(i: number, virtual: Uint32Array, changed: Changed): void {
    const lo = virtual[2 * i] as number;
    const hi = virtual[2 * i + 1] as number;
    this.#unmapHost(i);
    this.virtual[2 * i] = lo;
    this.virtual[2 * i + 1] = hi;
    if ((lo & PTE_PRESENT) === 0) return;
    const gfn = gfnOfPte(lo, hi);
    // A frame outside guest RAM cannot be mapped: its host PTE stays the scratch page.
    if (gfn >= this.#guestPages) return;
    changed.mapped.push(i);
    changed.gfns.push(gfn);
  }

  /** Guest frames of present entries (what the host must have pinned). */
  presentGfns(): Set<number> {
    const out = new Set<number>();
    for (let i = 0; i < this.entries; i++)
      if (this.present(i) && this.gfn(i) < this.#guestPages) out.add(this.gfn(i));
    return out;
  }
}

/** Entries a sync re-emulated that map a frame, and those frames, for one batch mapping. */
interface Changed {
  readonly mapped: number[];
  readonly gfns: number[];
}
