/**
 * The vGPU model: GVT-g's mediation (trapped MMIO and GTT writes, shadow GGTT/PPGTT,
 * execlist submission, interrupt propagation, vblank emulation) plus the simulated GPU
 * that executes workloads and the simulated guest driver that feeds it (see
 * guest-driver.ts). Pure: guest memory, pins and interrupts come through {@link VgpuPorts},
 * so the model runs the same under the driver and in unit tests.
 */
import { applyConfigWrite, MdevError } from "@mdevkit/core";
import { msiEnabled } from "./config-space.js";
import { Ggtt } from "./ggtt.js";
import { type GuestLayout, guestLayout } from "./guest-layout.js";
import { draw, Stream } from "./hash.js";
import { HostSpace, type PinPort } from "./host-space.js";
import { buildOpRegion, OPREGION_BYTES } from "./opregion.js";
import { Ppgtt, type RootType } from "./ppgtt.js";
import {
  CONTEXT_SWITCH_IRQ,
  CSB_ENTRIES,
  CSB_STATUS_COMPLETE,
  dePipeIsr,
  ENGINE_REGS,
  fenceReg,
  frameCount,
  GTT_WINDOW_OFFSET,
  gtIsr,
  HWS_CSB_BUF0_INDEX,
  HWS_CSB_WRITE_INDEX,
  IER,
  IIR,
  IMR,
  MASTER_IRQ,
  MASTER_IRQ_CONTROL,
  PIPE_VBLANK,
  PIPECONF_ENABLE,
  PIPES,
  PVINFO,
  pipeconf,
  Ring,
  VGT_MAGIC_HI,
  VGT_MAGIC_LO,
  VGT_VERSION,
} from "./registers.js";
import type { EngineImage, MmImage, VgpuImage, WorkloadImage } from "./vgpu-image.js";
import { ggttEntries, type VgpuType } from "./vgpu-types.js";
import { RegisterFile } from "./vregs.js";

/** Guest memory and interrupt access the model needs. */
export interface VgpuPorts {
  /** A device write into guest memory at guest-physical `gpa`; false on an IOMMU fault. */
  dmaWrite(gpa: number, data: Uint8Array): boolean;
  /** A device read of guest memory; undefined on an IOMMU fault. */
  dmaRead(gpa: number, length: number): Uint8Array | undefined;
  /** Signals the vGPU's MSI (`inject_virtual_interrupt`). */
  raiseMsi(): void;
}

/** How to build a model. */
export interface VgpuInit {
  readonly type: VgpuType;
  readonly renderPages: number;
  readonly fbPages: number;
  readonly seed: number;
  readonly guestPages: number;
  /** The device's config space and its write mask (owned by the driver). */
  readonly config: { readonly bytes: Uint8Array; readonly writeMask: Uint8Array };
  readonly ports: VgpuPorts;
  /** Present when the device's dirty tracking is the IOMMU's pinned-page scope. */
  readonly pins?: PinPort;
}

/** A submitted workload. */
interface Workload {
  readonly seq: number;
  readonly elsp: readonly number[];
  /** Tick it was dispatched at; -1 while queued. */
  startTick: number;
}

/** Execlist and workload queue of one engine. */
interface Engine {
  readonly index: number;
  elsp: number[];
  elspIndex: number;
  slots: number[];
  csbWrite: number;
  lastSubmittedSeq: number;
  queue: Workload[];
}

/** Offsets inside a guest context image the model reads and writes. */
export const Ctx = {
  ID: 0x00,
  RING_HEAD: 0x10,
  RING_TAIL: 0x14,
  ROOT_TYPE: 0x100,
  MM_ID: 0x104,
  PDP0: 0x108,
} as const;

/** Descriptor low dword: valid bit; bits 12+ are the context's graphics address. */
export const DESC_VALID = 0x1;

/** One completed workload, for tests (host-side record, never migrated). */
export interface Completion {
  readonly engine: number;
  readonly seq: number;
  readonly tick: number;
}

/** The vGPU device model. */
export class Vgpu {
  readonly type: VgpuType;
  readonly layout: GuestLayout;
  readonly vreg = new RegisterFile();
  readonly sreg = new RegisterFile();
  readonly ggtt: Ggtt;
  readonly ppgtt: Ppgtt;
  readonly host: HostSpace;
  readonly opregion = buildOpRegion();
  /** Host fence registers: guest fences relocated into the partition. Never migrated. */
  readonly hostFences: number[];
  /** Completions observed on this host (tests compare source + target with submissions). */
  readonly completions: Completion[] = [];
  /** Virtual time in ticks. */
  tick = 0;
  readonly #init: VgpuInit;
  readonly #engines: Engine[];
  readonly #page = new Uint8Array(4096);
  readonly #groups: readonly number[];

  constructor(init: VgpuInit) {
    this.#init = init;
    this.type = init.type;
    this.layout = guestLayout(init.type, init.fbPages, init.guestPages);
    this.host = new HostSpace(init.type.lowGmBytes, init.type.highGmBytes, init.pins);
    this.ggtt = new Ggtt(ggttEntries(init.type), this.host, init.guestPages);
    this.ppgtt = new Ppgtt(init.type.maxPpgttMms, this.host, init.guestPages);
    this.hostFences = Array.from({ length: init.type.fences }, () => 0);
    this.#engines = init.type.engines.map((_, index) => freshEngine(index));
    const groups = new Set(init.type.engines.map((n) => gtIsr(ENGINE_REGS[n].gtGroup)));
    for (let p = 0; p < PIPES; p++) groups.add(dePipeIsr(p));
    this.#groups = [...groups];
    this.powerOn();
  }

  /** The seed workloads draw from. */
  get seed(): number {
    return this.#init.seed;
  }

  /** Render-target pages an rcs0 completion writes. */
  get renderPages(): number {
    return this.#init.renderPages;
  }

  /** Back to the state GVT-g creates a vGPU in (config space is the VMM's and stays). */
  powerOn(): void {
    this.ggtt.clear();
    this.ppgtt.clear();
    this.vreg.reset();
    this.sreg.reset();
    this.opregion.set(buildOpRegion());
    this.hostFences.fill(0);
    this.tick = 0;
    for (let i = 0; i < this.#engines.length; i++) this.#engines[i] = freshEngine(i);
    const t = this.type;
    this.vreg.set(PVINFO.MAGIC_LO, VGT_MAGIC_LO);
    this.vreg.set(PVINFO.MAGIC_HI, VGT_MAGIC_HI);
    this.vreg.set(PVINFO.VERSION, VGT_VERSION);
    this.vreg.set(PVINFO.DISPLAY_READY, 1);
    this.vreg.set(PVINFO.VGT_ID, 1);
    // The guest sees its partition at graphics address 0 (the migration series' g2h fix).
    this.vreg.set(PVINFO.MAPPABLE_BASE, 0);
    this.vreg.set(PVINFO.MAPPABLE_SIZE, t.lowGmBytes);
    this.vreg.set(PVINFO.HIDDEN_BASE, t.lowGmBytes);
    this.vreg.set(PVINFO.HIDDEN_SIZE, t.highGmBytes >>> 0);
    this.vreg.set(PVINFO.FENCE_NUM, t.fences);
  }

  /** Number of engines. */
  get engineCount(): number {
    return this.#engines.length;
  }

  /** Whether the (simulated) guest driver has initialised the GPU. */
  get guestDriverLoaded(): boolean {
    return this.vreg.get(PVINFO.G2V_NOTIFY) !== 0;
  }

  /** Whether the guest enabled MSI in config space. */
  get msiEnabled(): boolean {
    return msiEnabled(this.#init.config.bytes);
  }

  /** A guest config-space write (the guest driver enabling MSI, programming ASLS). */
  configWrite(offset: number, data: Uint8Array): void {
    applyConfigWrite(this.#init.config.bytes, this.#init.config.writeMask, offset, data);
  }

  // ---- trapped guest MMIO ----

  /** A trapped 4-byte guest write to BAR0 `offset` (MMIO file or GTT window). */
  mmioWrite(offset: number, value: number): void {
    if (offset >= GTT_WINDOW_OFFSET) {
      this.ggtt.mmioWrite(offset - GTT_WINDOW_OFFSET, 4, value);
      return;
    }
    this.sreg.set(offset, value);
    const engine = this.#engineByElsp(offset);
    if (engine !== undefined) {
      engine.elsp[engine.elspIndex++] = value >>> 0;
      if (engine.elspIndex === 4) {
        engine.elspIndex = 0;
        this.#submit(engine, engine.elsp.slice());
      }
      return;
    }
    const group = interruptGroupOf(offset);
    if (group !== undefined && offset - group === IIR) {
      this.vreg.clear(offset, value); // write 1 to clear
      return;
    }
    this.vreg.set(offset, value);
    if (group !== undefined && (offset - group === IMR || offset - group === IER)) {
      // Unmasking a latched event raises it now (GVT-g's update_upstream_irq).
      if (this.#pending(group)) this.#inject();
    }
    const fence = this.#fenceIndex(offset);
    if (fence !== undefined) this.#rebuildHostFence(fence);
  }

  /** A trapped 8-byte guest write to the GTT window at GTT entry `index`. */
  ggttWrite64(index: number, lo: number, hi: number): void {
    this.ggtt.mmioWrite(index * 8, 8, lo, hi);
  }

  /** A trapped guest write to entry `index` of guest page-table frame `gfn` (write-protected). */
  onPageTableWrite(gfn: number, index: number): void {
    this.ppgtt.onGuestWrite(gfn, index, (g) => this.#init.ports.dmaRead(g * 4096, 4096));
  }

  #engineByElsp(offset: number): Engine | undefined {
    for (const e of this.#engines) {
      if (ENGINE_REGS[this.type.engines[e.index]!].base + Ring.ELSP === offset) return e;
    }
    return undefined;
  }

  #fenceIndex(offset: number): number | undefined {
    const i = Math.floor((offset - fenceReg(0)) / 8);
    return i >= 0 && i < this.type.fences && offset < fenceReg(this.type.fences) ? i : undefined;
  }

  #rebuildHostFence(i: number): void {
    const lo = this.vreg.get(fenceReg(i));
    // Guest fence ranges are partition-relative; the host register holds the host range.
    this.hostFences[i] = lo === 0 ? 0 : (lo & 0xfffff000) + this.host.apertureBase;
  }

  // ---- execlists ----

  #submit(engine: Engine, elsp: readonly number[]): void {
    const lo = elsp[3]!;
    const seq = elsp[2]!;
    if ((lo & DESC_VALID) === 0 || lo >>> 12 >= this.ggtt.entries) {
      // GVT-g refuses a malformed submission and the guest sees a hang; nothing is queued.
      return;
    }
    engine.queue.push({ seq, elsp, startTick: -1 });
    engine.slots = [...engine.slots.slice(4), ...elsp];
    engine.lastSubmittedSeq = seq;
    const base = ENGINE_REGS[this.type.engines[engine.index]!].base;
    this.vreg.set(base + Ring.EXECLIST_STATUS, (engine.queue.length & 0x3) | 0x100);
  }

  /** The guest's last submitted context id on engine `e`. */
  lastSubmittedSeq(e: number): number {
    return this.#engines[e]!.lastSubmittedSeq;
  }

  /** Workloads of engine `e` (queued or running), oldest first. */
  workloads(e: number): { seq: number; running: boolean }[] {
    return this.#engines[e]!.queue.map((w) => ({ seq: w.seq, running: w.startTick >= 0 }));
  }

  /** Ticks workload `seq` of engine `e` executes for: 1–3, a function of the ids only. */
  duration(e: number, seq: number): number {
    return 1 + (draw(this.seed, Stream.DURATION, e, seq) % 3);
  }

  /** One tick of the GPU: finish due workloads, dispatch queued ones. */
  gpuStep(): void {
    for (const e of this.#engines) {
      const head = e.queue[0];
      if (
        head &&
        head.startTick >= 0 &&
        this.tick >= head.startTick + this.duration(e.index, head.seq)
      ) {
        this.#complete(e);
      }
      const next = e.queue[0];
      if (next && next.startTick < 0) this.#dispatch(next);
    }
  }

  #dispatch(w: Workload): void {
    w.startTick = this.tick;
    const ctx = this.#readCtx(w);
    if (!ctx) return;
    const v = new DataView(ctx.buffer, ctx.byteOffset, ctx.byteLength);
    const rootType = v.getUint32(Ctx.ROOT_TYPE, true);
    const mm = v.getUint32(Ctx.MM_ID, true);
    if ((rootType !== 3 && rootType !== 4) || mm >= this.type.maxPpgttMms) return;
    const pdps = [0, 1, 2, 3].map((i) => Number(v.getBigUint64(Ctx.PDP0 + 8 * i, true)));
    this.ppgtt.getMm(mm, rootType as RootType, pdps);
    // The shadow is built when a context first runs with this root (intel_vgpu_get_ppgtt_mm).
    this.ppgtt.shadow(mm, (gfn) => this.#init.ports.dmaRead(gfn * 4096, 4096));
  }

  #readCtx(w: Workload): Uint8Array | undefined {
    const gfn = this.ggtt.hostGfn(w.elsp[3]! >>> 12);
    return gfn === undefined ? undefined : this.#init.ports.dmaRead(gfn * 4096, 4096);
  }

  /** Completes engine `e`'s running workload: render output, context write-back, CSB, IRQ. */
  #complete(e: Engine): void {
    const w = e.queue.shift()!;
    const ports = this.#init.ports;
    const pages = this.type.engines[e.index] === "rcs0" ? this.#init.renderPages : 2;
    const page = this.#page;
    const pv = new DataView(page.buffer);
    for (let k = 0; k < pages; k++) {
      const fbPage = renderPage(this.seed, e.index, w.seq, k, this.layout.fbPages);
      const gfn = this.ggtt.hostGfn(this.layout.fbIndex + fbPage);
      if (gfn === undefined) continue; // scratch: the GPU's write goes nowhere
      page.fill((w.seq * 31 + k) & 0xff);
      pv.setUint32(0, w.seq, true);
      pv.setUint32(4, k, true);
      pv.setUint32(8, fbPage, true);
      pv.setUint32(12, e.index, true);
      ports.dmaWrite(gfn * 4096, page);
    }
    // update_guest_context: the context image goes back with RING_HEAD caught up.
    const ctx = this.#readCtx(w);
    const ctxGfn = this.ggtt.hostGfn(w.elsp[3]! >>> 12);
    if (ctx && ctxGfn !== undefined) {
      const cv = new DataView(ctx.buffer, ctx.byteOffset, ctx.byteLength);
      cv.setUint32(Ctx.ID, w.seq, true);
      cv.setUint32(Ctx.RING_HEAD, cv.getUint32(Ctx.RING_TAIL, true), true);
      ports.dmaWrite(ctxGfn * 4096, ctx);
    }
    // emulate_csb_update: the CSB entry in the vreg and in the guest's status page.
    const regs = ENGINE_REGS[this.type.engines[e.index]!];
    e.csbWrite = (e.csbWrite + 1) % CSB_ENTRIES;
    this.vreg.set(regs.base + Ring.CSB_BUF0 + 8 * e.csbWrite, CSB_STATUS_COMPLETE);
    this.vreg.set(regs.base + Ring.CSB_BUF0 + 8 * e.csbWrite + 4, w.seq);
    this.vreg.set(regs.base + Ring.CSB_PTR, e.csbWrite);
    this.vreg.set(regs.base + Ring.EXECLIST_STATUS, (e.queue.length & 0x3) | 0x100);
    const hwsp = this.ggtt.hostGfn(this.layout.engines[e.index]!.hwspIndex);
    if (hwsp !== undefined) {
      const entry = new Uint8Array(8);
      const ev = new DataView(entry.buffer);
      ev.setUint32(0, CSB_STATUS_COMPLETE, true);
      ev.setUint32(4, w.seq, true);
      ports.dmaWrite(hwsp * 4096 + HWS_CSB_BUF0_INDEX * 4 + e.csbWrite * 8, entry);
      const wp = new Uint8Array(4);
      new DataView(wp.buffer).setUint32(0, e.csbWrite, true);
      ports.dmaWrite(hwsp * 4096 + HWS_CSB_WRITE_INDEX * 4, wp);
    }
    this.completions.push({ engine: e.index, seq: w.seq, tick: this.tick });
    this.raiseEvent(gtIsr(regs.gtGroup), CONTEXT_SWITCH_IRQ << regs.shift);
  }

  /**
   * Stop policy: no new dispatch, and every running workload finishes now with its
   * completion writes and interrupt (`intel_gvt_wait_vgpu_idle`). Workloads run at most
   * 3 ticks, so this is the bounded drain; queued ones stay queued.
   */
  drain(): void {
    for (const e of this.#engines) if (e.queue[0] && e.queue[0].startTick >= 0) this.#complete(e);
  }

  // ---- display ----

  /** One tick of vblank emulation: every enabled pipe gets a vblank every 16 ticks. */
  displayStep(): void {
    for (let p = 0; p < PIPES; p++) {
      if ((this.vreg.get(pipeconf(p)) & PIPECONF_ENABLE) === 0) continue;
      if (this.tick % 16 !== vblankPhase(p)) continue;
      this.vreg.set(frameCount(p), this.vreg.get(frameCount(p)) + 1);
      this.raiseEvent(dePipeIsr(p), PIPE_VBLANK);
    }
  }

  // ---- interrupts ----

  /** `propagate_event`: latch `bit` in the group's IIR unless masked, and inject if enabled. */
  raiseEvent(isr: number, bit: number): void {
    if ((this.vreg.get(isr + IMR) & bit) !== 0) return;
    this.vreg.or(isr + IIR, bit);
    if ((this.vreg.get(isr + IER) & bit) !== 0) this.#inject();
  }

  #inject(): void {
    if ((this.vreg.get(MASTER_IRQ) & MASTER_IRQ_CONTROL) === 0) return;
    // inject_virtual_interrupt: with MSI disabled the event stays latched, nothing is sent.
    if (this.msiEnabled) this.#init.ports.raiseMsi();
  }

  #pending(isr: number): boolean {
    return (this.vreg.get(isr + IIR) & ~this.vreg.get(isr + IMR) & this.vreg.get(isr + IER)) !== 0;
  }

  /** Interrupt groups (their ISR offsets) the model uses. */
  interruptGroups(): readonly number[] {
    return this.#groups;
  }

  /** Whether an unmasked, enabled event is latched (what START re-delivers). */
  get interruptPending(): boolean {
    if ((this.vreg.get(MASTER_IRQ) & MASTER_IRQ_CONTROL) === 0) return false;
    return this.interruptGroups().some((g) => this.#pending(g));
  }

  // ---- migration image ----

  /**
   * The migratable state. Only valid with no running workload (after {@link drain}).
   * `liveGgtt`: the image's GGTT is the table itself, not a copy — for an image encoded at
   * once, before anything can write the table again. A copy is 1.25 MiB of fresh memory,
   * which this VM's host faults in page by page: 2.5–7.8 ms of the seed VM's paused window.
   * @throws MdevError EIO if a workload is still running (a stop that did not drain).
   */
  snapshot({ liveGgtt = false }: { readonly liveGgtt?: boolean } = {}): VgpuImage {
    const engines: EngineImage[] = [];
    const workloads: WorkloadImage[] = [];
    for (const e of this.#engines) {
      engines.push({
        elsp: e.elsp.slice(),
        elspIndex: e.elspIndex,
        slots: e.slots.slice(),
        csbWrite: e.csbWrite,
        lastSubmittedSeq: e.lastSubmittedSeq,
      });
      for (const w of e.queue) {
        if (w.startTick >= 0)
          throw new MdevError(
            "EIO",
            `gvt-g bug: snapshot with workload ${w.seq} running on engine ${e.index}`,
          );
        workloads.push({ engine: e.index, elsp: w.elsp.slice() });
      }
    }
    const mms: MmImage[] = [];
    this.ppgtt.mms.forEach((mm, id) => {
      if (mm) mms.push({ id, rootType: mm.rootType, pdps: mm.pdps.slice() });
    });
    return {
      tick: this.tick,
      cfg: this.#init.config.bytes.slice(),
      vreg: this.vreg.entries(),
      sreg: this.sreg.entries(),
      ggtt: liveGgtt ? this.ggtt.virtual : this.ggtt.virtual.slice(),
      partialPtes: [...this.ggtt.partial.entries()].sort((a, b) => a[0] - b[0]),
      fences: Array.from({ length: this.type.fences }, (_, i) => [
        this.vreg.get(fenceReg(i)),
        this.vreg.get(fenceReg(i) + 4),
      ]),
      mms,
      engines,
      workloads,
      display: Array.from({ length: PIPES }, (_, p) => ({
        enabled: (this.vreg.get(pipeconf(p)) & PIPECONF_ENABLE) !== 0,
        vblankCount: this.vreg.get(frameCount(p)),
      })),
      opregion: this.opregion.slice(),
    };
  }

  /**
   * Rebuilds the vGPU from a validated image, in GVT-g's restore order: config space
   * (BARs and OpRegion remapped), register files with PIPECONF/fence re-emulation, GGTT
   * re-emulation (pins on this host), PPGTT mms from guest roots, execlist pointers, then
   * queued workloads replayed as ELSP writes. Pending interrupts wait for START. With
   * `ggttRewritten`, only those GGTT entries can differ from the table in place (see
   * {@link Ggtt.restore}).
   */
  restore(image: VgpuImage, ggttRewritten?: readonly number[]): void {
    const cfg = this.#init.config.bytes;
    cfg.set(image.cfg);
    this.host.opregionVa = this.host.allocMfn() * 4096; // the OpRegion mapped again for ASLS
    this.vreg.replace(image.vreg);
    this.sreg.replace(image.sreg);
    for (let i = 0; i < this.type.fences; i++) this.#rebuildHostFence(i);
    this.ggtt.restore(image.ggtt, new Map(image.partialPtes), ggttRewritten);
    this.ppgtt.clear();
    for (const mm of image.mms) this.ppgtt.getMm(mm.id, mm.rootType, mm.pdps);
    image.engines.forEach((img, i) => {
      const e = this.#engines[i]!;
      e.elsp = img.elsp.slice();
      e.elspIndex = img.elspIndex;
      e.slots = img.slots.slice();
      e.csbWrite = img.csbWrite;
      e.queue = [];
    });
    for (const w of image.workloads) this.#submit(this.#engines[w.engine]!, w.elsp);
    image.engines.forEach((img, i) => {
      // Replay moved the slots and seq forward as the source had; pin them to the image.
      this.#engines[i]!.lastSubmittedSeq = img.lastSubmittedSeq;
      this.#engines[i]!.slots = img.slots.slice();
    });
    this.opregion.set(image.opregion.subarray(0, OPREGION_BYTES));
    this.tick = image.tick;
  }
}

function freshEngine(index: number): Engine {
  return {
    index,
    elsp: [0, 0, 0, 0],
    elspIndex: 0,
    slots: [0, 0, 0, 0, 0, 0, 0, 0],
    csbWrite: CSB_ENTRIES - 1,
    lastSubmittedSeq: 0,
    queue: [],
  };
}

/** The interrupt group (ISR offset) register `offset` belongs to, if any. */
function interruptGroupOf(offset: number): number | undefined {
  if (offset >= 0x44300 && offset < 0x44340) return offset - (offset % 0x10);
  if (offset >= 0x44400 && offset < 0x44430) return offset - (offset % 0x10);
  return undefined;
}

/** Tick (mod 16) of pipe `p`'s vblank: pipes are offset so their interrupts interleave. */
export function vblankPhase(p: number): number {
  return (p * 8 + p) % 16;
}

/** Framebuffer page the `k`-th render write of workload `seq` on engine `e` lands on. */
export function renderPage(
  seed: number,
  e: number,
  seq: number,
  k: number,
  fbPages: number,
): number {
  return draw(seed, Stream.RENDER_PAGE, e * 0x100_0000 + (seq % 0x100_0000), k) % fbPages;
}
