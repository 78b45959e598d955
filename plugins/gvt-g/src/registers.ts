/**
 * Offsets in the vGPU's 2 MiB MMIO register file (BAR0) that the model emulates, with
 * the names i915 uses (Gen8/Gen9 layout). Everything else in the file is plain storage.
 */
import type { EngineName } from "./vgpu-types.js";

/** Size of the virtual register file (`device_info.mmio_size`). */
export const MMIO_BYTES = 2 * 2 ** 20;
/** Offset of the GTT window in BAR0 (`gtt_start_offset`). */
export const GTT_WINDOW_OFFSET = 8 * 2 ** 20;
/** BAR0 size: 2 MiB MMIO, padding, 8 MiB GTT window. */
export const BAR0_BYTES = 16 * 2 ** 20;

/** Per-engine register block and interrupt wiring. */
export interface EngineRegs {
  /** Ring MMIO base. */
  readonly base: number;
  /** GT interrupt group (GEN8_GT_IIR(n)). */
  readonly gtGroup: number;
  /** Bit shift of the engine inside its group. */
  readonly shift: number;
  /** Ticks between two ELSP submissions by the simulated guest. */
  readonly submitPeriod: number;
}

/** Engine register bases (RENDER_RING_BASE, BLT_RING_BASE, GEN6_BSD_RING_BASE, …). */
export const ENGINE_REGS: Readonly<Record<EngineName, EngineRegs>> = {
  rcs0: { base: 0x02000, gtGroup: 0, shift: 0, submitPeriod: 4 },
  bcs0: { base: 0x22000, gtGroup: 0, shift: 16, submitPeriod: 10 },
  vcs0: { base: 0x12000, gtGroup: 1, shift: 0, submitPeriod: 8 },
  vcs1: { base: 0x1c000, gtGroup: 1, shift: 16, submitPeriod: 12 },
  vecs0: { base: 0x1a000, gtGroup: 3, shift: 0, submitPeriod: 16 },
};

/** Ring-relative registers. */
export const Ring = {
  TAIL: 0x30,
  HEAD: 0x34,
  HWS_PGA: 0x80,
  ELSP: 0x230,
  EXECLIST_STATUS: 0x234,
  CSB_BUF0: 0x370,
  CSB_PTR: 0x3a0,
} as const;

/** Context-status-buffer entries per engine. */
export const CSB_ENTRIES = 6;
/** GEN8_GT_CONTEXT_SWITCH_INTERRUPT within an engine's 16-bit interrupt field. */
export const CONTEXT_SWITCH_IRQ = 1 << 8;
/** CSB status: element switched out because it completed (ACTIVE_TO_IDLE | COMPLETE). */
export const CSB_STATUS_COMPLETE = 0x18;
/** HWSP dword index of CSB entry 0 (I915_HWS_CSB_BUF0_INDEX). */
export const HWS_CSB_BUF0_INDEX = 0x10;
/** HWSP dword index of the CSB write pointer (I915_HWS_CSB_WRITE_INDEX). */
export const HWS_CSB_WRITE_INDEX = 0x1f;

/** GEN8_MASTER_IRQ and its enable bit. */
export const MASTER_IRQ = 0x44200;
/** GEN8_MASTER_IRQ_CONTROL: interrupts enabled at all. */
export const MASTER_IRQ_CONTROL = 0x8000_0000;

/** GEN8_GT_ISR(n); IMR/IIR/IER follow at +4/+8/+0xc. */
export function gtIsr(group: number): number {
  return 0x44300 + 0x10 * group;
}
/** GEN8_DE_PIPE_ISR(pipe); IMR/IIR/IER follow at +4/+8/+0xc. */
export function dePipeIsr(pipe: number): number {
  return 0x44400 + 0x10 * pipe;
}
/** Offset of IMR from its ISR. */
export const IMR = 4;
/** Offset of IIR from its ISR. */
export const IIR = 8;
/** Offset of IER from its ISR. */
export const IER = 0xc;
/** GEN8_PIPE_VBLANK in a DE pipe interrupt group. */
export const PIPE_VBLANK = 1 << 0;

/** Display pipes A–C. */
export const PIPES = 3;
/** PIPECONF(pipe) and its enable bit. */
export function pipeconf(pipe: number): number {
  return 0x70008 + 0x1000 * pipe;
}
/** PIPECONF: pipe enabled. */
export const PIPECONF_ENABLE = 0x8000_0000;
/** PIPE_FRMCOUNT(pipe): the hardware frame counter the guest reads. */
export function frameCount(pipe: number): number {
  return 0x70040 + 0x1000 * pipe;
}
/** DSPCNTR(pipe), DSPSURF(pipe): primary plane control and surface base (a GM address). */
export function dspcntr(pipe: number): number {
  return 0x70180 + 0x1000 * pipe;
}
/** DSPSURF(pipe): primary plane surface base (a partition-relative graphics address). */
export function dspsurf(pipe: number): number {
  return 0x7019c + 0x1000 * pipe;
}
/** Ticks between vblanks: 16 ms at one tick per ms, i.e. 60 Hz. */
export const VBLANK_PERIOD_TICKS = 16;

/** FENCE_REG_GEN6_LO(i); the high dword follows at +4. */
export function fenceReg(i: number): number {
  return 0x100000 + 8 * i;
}

/** The PVINFO page the GVT-g guest driver reads (`struct vgt_if`). */
export const PVINFO = {
  BASE: 0x78000,
  MAGIC_LO: 0x78000,
  MAGIC_HI: 0x78004,
  VERSION: 0x78008,
  DISPLAY_READY: 0x7800c,
  VGT_ID: 0x78010,
  CAPS: 0x78014,
  MAPPABLE_BASE: 0x78040,
  MAPPABLE_SIZE: 0x78044,
  HIDDEN_BASE: 0x78048,
  HIDDEN_SIZE: 0x7804c,
  FENCE_NUM: 0x78050,
  /** Guest-driver scratch: the simulated guest's "driver loaded" marker (g2v_notify). */
  G2V_NOTIFY: 0x78810,
} as const;
/** VGT_MAGIC ("vGTvGTvG" little-endian). */
export const VGT_MAGIC_LO = 0x47765447;
/** VGT_MAGIC, high dword. */
export const VGT_MAGIC_HI = 0x47765447;
/** `vgt_if` version 1.0. */
export const VGT_VERSION = 0x0000_0001;
/** G2V_NOTIFY value the simulated guest driver writes once it has programmed the GPU. */
export const GUEST_DRIVER_LOADED = 0x1;
