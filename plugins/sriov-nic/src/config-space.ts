/**
 * The VF's PCI config space: 82576 VF identity, Ethernet class, BAR0 (16 KiB registers)
 * and BAR3 (16 KiB MSI-X table and PBA), both 64-bit memory BARs. The VMM saves and
 * restores it (QEMU's `vfio_pci_save_config`), so it is not in the plugin's stream.
 */
import { type ConfigSpaceImage, PCI_CFG } from "@mdevkit/core";
import { VF_DEVICE_ID, VF_MMIO_SIZE, VF_VENDOR_ID } from "./regs.js";

/** Class code: network controller (0x02), Ethernet (0x00). */
export const VF_CLASS_CODE = 0x020000;
/** MSI-X BAR size (`IGBVF_MSIX_SIZE`). */
export const VF_MSIX_BAR_SIZE = 16 * 1024;

/** Config-space offsets used here (type 0 header). */
export const Cfg = {
  ...PCI_CFG,
  BAR3: 0x1c,
} as const;

/** COMMAND bits a VF implements: memory space, bus master, INTx disable (VFs have no I/O space). */
const COMMAND_WRITABLE = 0x0406;
/** BAR flags: 64-bit memory BAR (type 10b). */
const BAR_MEM64 = 0x4;

function put(bytes: Uint8Array, offset: number, value: number, size: 1 | 2 | 4): void {
  for (let i = 0; i < size; i++) bytes[offset + i] = (value >>> (8 * i)) & 0xff;
}

/** Builds the VF's config space. */
export function buildConfigSpace(): ConfigSpaceImage {
  const bytes = new Uint8Array(256);
  const mask = new Uint8Array(256);
  put(bytes, Cfg.VENDOR_ID, VF_VENDOR_ID, 2);
  put(bytes, Cfg.DEVICE_ID, VF_DEVICE_ID, 2);
  put(bytes, Cfg.STATUS, 0x0010, 2); // capability list present (MSI-X, as on the 82576 VF)
  bytes[Cfg.REVISION] = 0x01;
  put(bytes, Cfg.CLASS_PROG_IF, VF_CLASS_CODE, 1);
  put(bytes, Cfg.CLASS_PROG_IF + 1, VF_CLASS_CODE >>> 8, 1);
  put(bytes, Cfg.CLASS_PROG_IF + 2, VF_CLASS_CODE >>> 16, 1);
  put(bytes, Cfg.BAR0, BAR_MEM64, 4);
  put(bytes, Cfg.BAR3, BAR_MEM64, 4);
  put(bytes, Cfg.SUBSYSTEM_VENDOR_ID, VF_VENDOR_ID, 2);
  put(bytes, Cfg.SUBSYSTEM_ID, VF_DEVICE_ID, 2);
  put(mask, Cfg.COMMAND, COMMAND_WRITABLE, 2);
  put(mask, Cfg.BAR0, ~(VF_MMIO_SIZE - 1) >>> 0, 4);
  put(mask, Cfg.BAR0 + 4, 0xffff_ffff, 4);
  put(mask, Cfg.BAR3, ~(VF_MSIX_BAR_SIZE - 1) >>> 0, 4);
  put(mask, Cfg.BAR3 + 4, 0xffff_ffff, 4);
  mask[Cfg.INTERRUPT_LINE] = 0xff;
  return { bytes, writeMask: mask };
}
