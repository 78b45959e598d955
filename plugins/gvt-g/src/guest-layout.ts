/**
 * Where the simulated guest driver keeps its GPU objects: which guest frames back the
 * framebuffer, the per-engine status pages, rings and contexts, the PPGTT page tables,
 * and which GGTT entries (graphics-memory pages of the partition) map them. A pure
 * function of the vGPU type and profile, so source and target agree without sending it.
 *
 * GGTT indices are partition-relative: the guest sees its partition at graphics address
 * 0 (the g2h adjustment of the GVT-g migration series), aperture first, hidden after.
 */
import { MdevError } from "@mdevkit/core";
import { lowEntries, type VgpuType } from "./vgpu-types.js";

/** Context images per engine the guest cycles through (seq % CTX_SLOTS). */
export const CTX_SLOTS = 4;
/** Guest page-table pages per PPGTT address space (PML4, PDP, PD, PT). */
export const PT_PAGES_PER_MM = 4;
/** Leaf entries each PPGTT maps (the first 64 KiB of its address space). */
export const LEAVES_PER_MM = 16;
/** First guest frame the guest driver uses (the first 64 KiB stay for firmware). */
export const GPU_BASE_GFN = 16;

/** Guest frames and GGTT entries of one engine. */
export interface EngineLayout {
  readonly hwspIndex: number;
  readonly hwspGfn: number;
  readonly ringIndex: number;
  readonly ringGfn: number;
  /** GGTT index of context slot 0; slot s is at ctxIndex + s. */
  readonly ctxIndex: number;
  readonly ctxGfn: number;
}

/** The guest driver's allocations for one vGPU. */
export interface GuestLayout {
  readonly fbIndex: number;
  readonly fbGfn: number;
  readonly fbPages: number;
  readonly poolIndex: number;
  readonly poolEntries: number;
  readonly poolGfn: number;
  readonly poolPages: number;
  readonly engines: readonly EngineLayout[];
  /** GGTT index and first frame of the PPGTT page-table pool (mm m uses 4 pages from m*4). */
  readonly ptIndex: number;
  readonly ptGfn: number;
  readonly ptPages: number;
  readonly leafGfn: number;
  readonly leafPages: number;
  /** Guest frame of the OpRegion the firmware reserved (ASLS points here). */
  readonly opregionGfn: number;
  /** First guest frame after everything above. */
  readonly endGfn: number;
  /** Whether guest RAM holds all of it (a guest driver in a smaller VM fails to load). */
  readonly fits: boolean;
}

/** The layout for `t` and a framebuffer of `fbPages` in a guest of `guestPages`. */
export function guestLayout(t: VgpuType, fbPages: number, guestPages: number): GuestLayout {
  const low = lowEntries(t);
  let gfn = GPU_BASE_GFN;
  const take = (n: number): number => {
    const at = gfn;
    gfn += n;
    return at;
  };
  const fbGfn = take(fbPages);
  const poolEntries = Math.min(t.poolEntries, low - fbPages);
  const poolGfn = take(t.poolPages);
  let hidden = low;
  const engines = t.engines.map(() => {
    const e: EngineLayout = {
      hwspIndex: hidden,
      hwspGfn: take(1),
      ringIndex: hidden + 1,
      ringGfn: take(1),
      ctxIndex: hidden + 2,
      ctxGfn: take(CTX_SLOTS),
    };
    hidden += 2 + CTX_SLOTS;
    return e;
  });
  const ptPages = t.maxPpgttMms * PT_PAGES_PER_MM;
  const ptGfn = take(ptPages);
  const layout: GuestLayout = {
    fbIndex: 0,
    fbGfn,
    fbPages,
    poolIndex: fbPages,
    poolEntries,
    poolGfn,
    poolPages: t.poolPages,
    engines,
    ptIndex: hidden,
    ptGfn,
    ptPages,
    leafGfn: take(t.leafPoolPages),
    leafPages: t.leafPoolPages,
    opregionGfn: take(2),
    endGfn: gfn,
    fits: gfn <= guestPages,
  };
  if (fbPages + poolEntries > low || poolEntries <= 0) {
    throw new MdevError(
      "EINVAL",
      `${t.name}: a ${fbPages}-page framebuffer does not fit the aperture`,
    );
  }
  return layout;
}
