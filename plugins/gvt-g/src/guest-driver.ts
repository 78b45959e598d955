/**
 * The simulated guest i915 driver: what a desktop guest does to its vGPU, as trapped
 * MMIO/GTT writes and writes to its own page tables, deterministic from the seed and
 * the vGPU's guest-visible state (its virtual time, the last context id per engine).
 *
 * - boot (once, on the first tick after power-on): program the GGTT for the framebuffer,
 *   buffer pool, status pages, rings, contexts and page-table pages; write the PPGTT
 *   tables and context images; fences; interrupt masks; pipes A and B; MSI and ASLS;
 * - every tick: service interrupts (clear unmasked IIR bits);
 * - every 4 ticks on rcs0 (10 on bcs0, 8/12/16 on the video engines): submit a context
 *   through ELSP with the next context id;
 * - every 50 ticks: remap 2 pool GGTT entries, a quarter of them as two 4-byte writes
 *   one tick apart (a partial PTE in between);
 * - every 10 ticks: rewrite 4 PPGTT leaf entries (trapped via write protection);
 * - at every pipe A vblank: flip the primary plane; pipe B's vblank is masked for half
 *   of every 64 ticks, leaving a latched-but-masked event.
 */
import { Cfg, COMMAND_MASTER, COMMAND_MEMORY, MSI_ENABLE } from "./config-space.js";
import { pteOf } from "./ggtt.js";
import { CTX_SLOTS, LEAVES_PER_MM, PT_PAGES_PER_MM } from "./guest-layout.js";
import { draw, Stream } from "./hash.js";
import {
  CONTEXT_SWITCH_IRQ,
  dePipeIsr,
  dspcntr,
  dspsurf,
  ENGINE_REGS,
  fenceReg,
  GTT_WINDOW_OFFSET,
  GUEST_DRIVER_LOADED,
  gtIsr,
  IER,
  IIR,
  IMR,
  MASTER_IRQ,
  MASTER_IRQ_CONTROL,
  PIPE_VBLANK,
  PIPECONF_ENABLE,
  PVINFO,
  pipeconf,
  Ring,
} from "./registers.js";
import { Ctx, DESC_VALID, type Vgpu, vblankPhase } from "./vgpu.js";

/** Ticks between GGTT remaps, and remaps each time. */
export const GGTT_CHURN_PERIOD = 50;
/** GGTT entries remapped each time. */
export const GGTT_CHURN_ENTRIES = 2;
/** Ticks between PPGTT leaf rewrites, and leaves each time. */
export const PPGTT_CHURN_PERIOD = 10;
/** PPGTT leaves rewritten each time. */
export const PPGTT_CHURN_LEAVES = 4;
/** Pipe B's vblank is masked from tick 9 to tick 41 of every 64. */
export const MASK_PERIOD = 64;

function le32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

/** PPGTT mm the guest gives context slot `s` of engine `e`. */
export function mmOfContext(vgpu: Vgpu, e: number, s: number): number {
  return (e * CTX_SLOTS + s) % vgpu.type.maxPpgttMms;
}

/** Guest frame of page-table page `level` (4 = PML4 … 1 = PT) of mm `m`. */
export function ptPageGfn(vgpu: Vgpu, m: number, level: number): number {
  return vgpu.layout.ptGfn + m * PT_PAGES_PER_MM + (4 - level);
}

/** Root type the guest uses for mm `m`: even mms 48-bit (L4), odd ones 32-bit (L3). */
export function rootTypeOf(m: number): 3 | 4 {
  return m % 2 === 0 ? 4 : 3;
}

/** Guest roots of mm `m`, as guest-physical addresses. */
export function pdpsOf(vgpu: Vgpu, m: number): number[] {
  return rootTypeOf(m) === 4
    ? [ptPageGfn(vgpu, m, 4) * 4096, 0, 0, 0]
    : [ptPageGfn(vgpu, m, 2) * 4096, 0, 0, 0];
}

/** Initial guest frame of leaf `j` of mm `m`. */
function initialLeaf(vgpu: Vgpu, m: number, j: number): number {
  return vgpu.layout.leafGfn + ((m * LEAVES_PER_MM + j) % vgpu.layout.leafPages);
}

/** An 8-byte page-table entry pointing at `gfn` (present, writable). */
function pte(gfn: number): Uint8Array {
  const [lo, hi] = pteOf(gfn);
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, lo, true);
  v.setUint32(4, hi, true);
  return b;
}

/**
 * The guest driver loading: everything a freshly booted guest programs. Called on the
 * first tick after power-on (a reset device comes back unprogrammed, as after FLR).
 */
export function bootGuest(vgpu: Vgpu, dmaWrite: (gpa: number, data: Uint8Array) => boolean): void {
  const L = vgpu.layout;
  // Too little guest RAM for the driver's objects: the guest driver fails to load and
  // leaves the vGPU idle (describeState shows guestDriverLoaded: false).
  if (!L.fits) return;
  const map = (index: number, gfn: number) => vgpu.ggttWrite64(index, ...pteOf(gfn));
  for (let i = 0; i < L.fbPages; i++) map(L.fbIndex + i, L.fbGfn + i);
  for (let i = 0; i < L.poolEntries; i++) map(L.poolIndex + i, L.poolGfn + (i % L.poolPages));
  L.engines.forEach((e) => {
    map(e.hwspIndex, e.hwspGfn);
    map(e.ringIndex, e.ringGfn);
    for (let s = 0; s < CTX_SLOTS; s++) map(e.ctxIndex + s, e.ctxGfn + s);
  });
  // Page-table pages are GGTT-mapped too, so the guest's (trapped) edits land in pinned memory.
  for (let i = 0; i < L.ptPages; i++) map(L.ptIndex + i, L.ptGfn + i);

  // Page tables and context images are fresh, zeroed pages: guest RAM holds whatever was
  // there before, and a stale "present" bit would become a mapping.
  const page = (entries: [number, number][]) => {
    const b = new Uint8Array(4096);
    for (const [i, gfn] of entries) b.set(pte(gfn), i * 8);
    return b;
  };
  for (let m = 0; m < vgpu.type.maxPpgttMms; m++) {
    if (rootTypeOf(m) === 4) {
      dmaWrite(ptPageGfn(vgpu, m, 4) * 4096, page([[0, ptPageGfn(vgpu, m, 3)]]));
      dmaWrite(ptPageGfn(vgpu, m, 3) * 4096, page([[0, ptPageGfn(vgpu, m, 2)]]));
    }
    dmaWrite(ptPageGfn(vgpu, m, 2) * 4096, page([[0, ptPageGfn(vgpu, m, 1)]]));
    const leaves = Array.from({ length: LEAVES_PER_MM }, (_, j): [number, number] => [
      j,
      initialLeaf(vgpu, m, j),
    ]);
    dmaWrite(ptPageGfn(vgpu, m, 1) * 4096, page(leaves));
  }
  L.engines.forEach((eng, e) => {
    for (let s = 0; s < CTX_SLOTS; s++) {
      const img = new Uint8Array(4096);
      const v = new DataView(img.buffer);
      const m = mmOfContext(vgpu, e, s);
      v.setUint32(Ctx.ROOT_TYPE, rootTypeOf(m), true);
      v.setUint32(Ctx.MM_ID, m, true);
      pdpsOf(vgpu, m).forEach((p, i) => {
        v.setBigUint64(Ctx.PDP0 + 8 * i, BigInt(p), true);
      });
      dmaWrite((eng.ctxGfn + s) * 4096, img);
    }
    const regs = ENGINE_REGS[vgpu.type.engines[e]!];
    vgpu.mmioWrite(regs.base + Ring.HWS_PGA, eng.hwspIndex * 4096);
  });
  // A tiled framebuffer behind fence 0; the other fences cover pool surfaces.
  for (let f = 0; f < vgpu.type.fences; f++) {
    const start = f === 0 ? L.fbIndex : L.poolIndex + f;
    const pages = f === 0 ? L.fbPages : 1;
    vgpu.mmioWrite(fenceReg(f), ((start * 4096) | 1) >>> 0);
    vgpu.mmioWrite(fenceReg(f) + 4, (start + pages - 1) * 4096);
  }
  const groups = new Set(vgpu.type.engines.map((n) => ENGINE_REGS[n].gtGroup));
  for (const g of groups) {
    let bits = 0;
    for (const n of vgpu.type.engines) {
      if (ENGINE_REGS[n].gtGroup === g) bits |= CONTEXT_SWITCH_IRQ << ENGINE_REGS[n].shift;
    }
    vgpu.mmioWrite(gtIsr(g) + IMR, ~bits >>> 0);
    vgpu.mmioWrite(gtIsr(g) + IER, bits);
  }
  for (const p of [0, 1]) {
    vgpu.mmioWrite(dePipeIsr(p) + IMR, ~PIPE_VBLANK >>> 0);
    vgpu.mmioWrite(dePipeIsr(p) + IER, PIPE_VBLANK);
    vgpu.mmioWrite(dspcntr(p), 0x8000_0000);
    vgpu.mmioWrite(dspsurf(p), L.fbIndex * 4096);
    vgpu.mmioWrite(pipeconf(p), PIPECONF_ENABLE);
  }
  vgpu.configWrite(Cfg.COMMAND, new Uint8Array([COMMAND_MEMORY | COMMAND_MASTER, 0]));
  vgpu.configWrite(Cfg.MSI_ADDR_LO, le32(0xfee0_0000));
  vgpu.configWrite(Cfg.MSI_DATA, new Uint8Array([0x41, 0x00]));
  vgpu.configWrite(Cfg.MSI_CONTROL, new Uint8Array([MSI_ENABLE, 0]));
  vgpu.configWrite(Cfg.ASLS, le32(L.opregionGfn * 4096));
  vgpu.opregion[0x200] = 1; // SWSCI: the driver announced itself through the mailbox
  vgpu.mmioWrite(MASTER_IRQ, MASTER_IRQ_CONTROL);
  vgpu.mmioWrite(PVINFO.G2V_NOTIFY, GUEST_DRIVER_LOADED);
}

/** The guest's interrupt handler: acknowledge every unmasked latched event. */
export function serviceInterrupts(vgpu: Vgpu): void {
  for (const g of vgpu.interruptGroups()) {
    const bits = vgpu.vreg.get(g + IIR) & ~vgpu.vreg.get(g + IMR);
    if (bits !== 0) vgpu.mmioWrite(g + IIR, bits >>> 0);
  }
}

/** The guest's submissions due this tick: one context per engine whose period came. */
export function submitWork(vgpu: Vgpu): void {
  const t = vgpu.tick;
  vgpu.type.engines.forEach((name, e) => {
    const regs = ENGINE_REGS[name];
    if (t % regs.submitPeriod !== 0) return;
    const seq = (vgpu.lastSubmittedSeq(e) + 1) >>> 0;
    const slot = seq % CTX_SLOTS;
    const lrca = (vgpu.layout.engines[e]!.ctxIndex + slot) * 4096;
    vgpu.mmioWrite(regs.base + Ring.TAIL, (seq * 64) % 4096);
    // ELSP takes element 1 then element 0, high dword first; element 1 stays empty.
    vgpu.mmioWrite(regs.base + Ring.ELSP, 0);
    vgpu.mmioWrite(regs.base + Ring.ELSP, 0);
    vgpu.mmioWrite(regs.base + Ring.ELSP, seq);
    vgpu.mmioWrite(regs.base + Ring.ELSP, (lrca | DESC_VALID) >>> 0);
  });
}

/** GGTT remaps due this tick (both halves of a split write come from the same draw). */
export function churnGgtt(vgpu: Vgpu): void {
  const L = vgpu.layout;
  const phase = vgpu.tick % GGTT_CHURN_PERIOD;
  if (phase > 1) return;
  const t0 = vgpu.tick - phase;
  for (let k = 0; k < GGTT_CHURN_ENTRIES; k++) {
    const index = L.poolIndex + (draw(vgpu.seed, Stream.GGTT_INDEX, t0, k) % L.poolEntries);
    const gfn = L.poolGfn + (draw(vgpu.seed, Stream.GGTT_GFN, t0, k) % L.poolPages);
    const split = draw(vgpu.seed, Stream.GGTT_SPLIT, t0, k) % 4 === 0;
    const [lo, hi] = pteOf(gfn);
    const at = GTT_WINDOW_OFFSET + index * 8;
    if (phase === 0 && !split) vgpu.ggttWrite64(index, lo, hi);
    else if (phase === 0) vgpu.mmioWrite(at, lo);
    else if (split) vgpu.mmioWrite(at + 4, hi);
  }
}

/** PPGTT leaf rewrites due this tick: the guest edits its page table, GVT-g traps it. */
export function churnPpgtt(vgpu: Vgpu, dmaWrite: (gpa: number, data: Uint8Array) => boolean): void {
  const t = vgpu.tick;
  if (t % PPGTT_CHURN_PERIOD !== 5) return;
  for (let k = 0; k < PPGTT_CHURN_LEAVES; k++) {
    const m = draw(vgpu.seed, Stream.PPGTT_LEAF, t, k) % vgpu.type.maxPpgttMms;
    const j = draw(vgpu.seed, Stream.PPGTT_LEAF, t, k + 16) % LEAVES_PER_MM;
    const gfn =
      vgpu.layout.leafGfn + (draw(vgpu.seed, Stream.PPGTT_GFN, t, k) % vgpu.layout.leafPages);
    const ptGfn = ptPageGfn(vgpu, m, 1);
    if (dmaWrite(ptGfn * 4096 + j * 8, pte(gfn))) vgpu.onPageTableWrite(ptGfn, j);
  }
}

/** Display-side guest work after this tick's vblanks: flips and pipe B's mask window. */
export function displayWork(vgpu: Vgpu): void {
  const t = vgpu.tick;
  const L = vgpu.layout;
  if (t % 16 === vblankPhase(0) && (vgpu.vreg.get(pipeconf(0)) & PIPECONF_ENABLE) !== 0) {
    const half = Math.floor(L.fbPages / 2);
    const front = vgpu.vreg.get(dspsurf(0)) === L.fbIndex * 4096;
    vgpu.mmioWrite(dspsurf(0), (L.fbIndex + (front ? half : 0)) * 4096);
  }
  const imr = dePipeIsr(1) + IMR;
  if (t % MASK_PERIOD === vblankPhase(1)) vgpu.mmioWrite(imr, vgpu.vreg.get(imr) | PIPE_VBLANK);
  if (t % MASK_PERIOD === vblankPhase(1) + 32)
    vgpu.mmioWrite(imr, vgpu.vreg.get(imr) & ~PIPE_VBLANK);
}

/**
 * One tick of the whole vGPU with its guest: boot if needed, interrupt service, GPU
 * (completions, dispatch), guest submissions and page-table churn, display, then time
 * advances. Only ever called while the device runs.
 */
export function stepVgpu(vgpu: Vgpu, dmaWrite: (gpa: number, data: Uint8Array) => boolean): void {
  if (!vgpu.guestDriverLoaded) bootGuest(vgpu, dmaWrite);
  if (!vgpu.guestDriverLoaded) return;
  serviceInterrupts(vgpu);
  vgpu.gpuStep();
  submitWork(vgpu);
  churnGgtt(vgpu);
  churnPpgtt(vgpu, dmaWrite);
  vgpu.displayStep();
  displayWork(vgpu);
  vgpu.tick++;
}
