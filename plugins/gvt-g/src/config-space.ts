/**
 * The vGPU's 4 KiB PCIe configuration space (`intel_vgpu_cfg_space.virtual_cfg_space`):
 * Intel's IDs for a Skylake GT2, BAR0 (GTTMMADR: 2 MiB MMIO plus the 8 MiB GTT window),
 * BAR2 (the aperture), the MSI capability at 0xAC, and the OpRegion registers the guest
 * programs: ASLS (the guest-physical address of the OpRegion) and SWSCI.
 *
 * Writes go through a per-byte write mask, so BAR sizing (all-ones, read back) and
 * read-only IDs behave as on hardware, in any write width the VMM replays.
 */
import { type ConfigSpaceImage, PCI_CFG } from "@mdevkit/core";
import { BAR0_BYTES } from "./registers.js";
import type { VgpuType } from "./vgpu-types.js";

/** Intel's PCI vendor ID. */
export const INTEL_VENDOR_ID = 0x8086;
/** Skylake GT2 desktop (HD Graphics 530), the GPU of the 2017 prototype's era. */
export const SKL_GT2_DEVICE_ID = 0x1912;
/** Class: display controller, VGA-compatible. */
export const VGA_CLASS_CODE = 0x030000;
/** Config space size (PCIe extended). */
export const CFG_BYTES = 4096;

/** Offsets in the config space. */
export const Cfg = {
  ...PCI_CFG,
  BAR2: 0x18,
  CAP_PTR: 0x34,
  /** MSI capability (SKL `pdev->msi_cap`). */
  MSI_CAP: 0xac,
  MSI_CONTROL: 0xae,
  MSI_ADDR_LO: 0xb0,
  MSI_ADDR_HI: 0xb4,
  MSI_DATA: 0xb8,
  /** Software SMI/SCI trigger (INTEL_GVT_PCI_SWSCI). */
  SWSCI: 0xe8,
  /** ASL storage: guest-physical address of the OpRegion (INTEL_GVT_PCI_OPREGION). */
  ASLS: 0xfc,
} as const;

/** COMMAND bits: memory space, bus master, INTx disable. */
export const COMMAND_MEMORY = 0x0002;
/** COMMAND bit: bus master (the vGPU may DMA). */
export const COMMAND_MASTER = 0x0004;
const COMMAND_WRITABLE = 0x0406;
/** MSI control: enable bit, and the read-only "64-bit address capable" bit. */
export const MSI_ENABLE = 0x0001;
const MSI_64BIT = 0x0080;
/** BAR flags: 64-bit memory BAR, and prefetchable. */
const BAR_MEM64 = 0x4;
const BAR_PREFETCH = 0x8;

/** Size of BAR2 (the aperture): the partition's aperture, rounded up to a power of two. */
export function apertureBarBytes(t: VgpuType): number {
  return 2 ** Math.ceil(Math.log2(t.lowGmBytes));
}

function put(bytes: Uint8Array, offset: number, value: number, width: 1 | 2 | 4): void {
  for (let i = 0; i < width; i++) bytes[offset + i] = (value >>> (8 * i)) & 0xff;
}

/** Reads a little-endian field of `width` bytes from config space. */
export function cfgRead(bytes: Uint8Array, offset: number, width: 1 | 2 | 4): number {
  let v = 0;
  for (let i = width - 1; i >= 0; i--) v = v * 256 + bytes[offset + i]!;
  return v;
}

/** Builds the power-on config space of a vGPU of type `t`. */
export function buildConfigSpace(t: VgpuType): ConfigSpaceImage {
  const bytes = new Uint8Array(CFG_BYTES);
  const mask = new Uint8Array(CFG_BYTES);
  put(bytes, Cfg.VENDOR_ID, INTEL_VENDOR_ID, 2);
  put(bytes, Cfg.DEVICE_ID, SKL_GT2_DEVICE_ID, 2);
  put(bytes, Cfg.STATUS, 0x0010, 2); // capability list present
  bytes[Cfg.REVISION] = 0x06;
  put(bytes, Cfg.CLASS_PROG_IF, VGA_CLASS_CODE, 1);
  bytes[Cfg.CLASS_PROG_IF + 1] = (VGA_CLASS_CODE >>> 8) & 0xff;
  bytes[Cfg.CLASS_PROG_IF + 2] = VGA_CLASS_CODE >>> 16;
  put(bytes, Cfg.BAR0, BAR_MEM64, 4);
  put(bytes, Cfg.BAR2, BAR_MEM64 | BAR_PREFETCH, 4);
  put(bytes, Cfg.SUBSYSTEM_VENDOR_ID, INTEL_VENDOR_ID, 2);
  put(bytes, Cfg.SUBSYSTEM_ID, SKL_GT2_DEVICE_ID, 2);
  bytes[Cfg.CAP_PTR] = Cfg.MSI_CAP;
  bytes[Cfg.INTERRUPT_PIN] = 0x01;
  bytes[Cfg.MSI_CAP] = 0x05; // MSI capability ID, last in the list
  put(bytes, Cfg.MSI_CONTROL, MSI_64BIT, 2);

  put(mask, Cfg.COMMAND, COMMAND_WRITABLE, 2);
  // 64-bit BARs: the low dword's address bits above the size are writable, the high dword wholly.
  put(mask, Cfg.BAR0, ~(BAR0_BYTES - 1) >>> 0, 4);
  put(mask, Cfg.BAR0 + 4, 0xffffffff, 4);
  const aperture = apertureBarBytes(t);
  put(mask, Cfg.BAR2, aperture >= 2 ** 32 ? 0 : ~(aperture - 1) >>> 0, 4);
  put(mask, Cfg.BAR2 + 4, aperture >= 2 ** 32 ? ~(aperture / 2 ** 32 - 1) >>> 0 : 0xffffffff, 4);
  put(mask, Cfg.MSI_CONTROL, MSI_ENABLE, 2);
  put(mask, Cfg.MSI_ADDR_LO, 0xfffffffc, 4);
  put(mask, Cfg.MSI_ADDR_HI, 0xffffffff, 4);
  put(mask, Cfg.MSI_DATA, 0xffff, 2);
  put(mask, Cfg.SWSCI, 0xffffffff, 4);
  put(mask, Cfg.ASLS, 0xffffffff, 4);
  return { bytes, writeMask: mask };
}

/** Whether the guest enabled MSI (the vGPU's only interrupt path, as with GVT-g). */
export function msiEnabled(bytes: Uint8Array): boolean {
  return (cfgRead(bytes, Cfg.MSI_CONTROL, 2) & MSI_ENABLE) !== 0;
}
