/**
 * The device's 256-byte PCI configuration header, modelled on mtty.c's.
 *
 * Writes go through a per-byte write mask, the way hardware implements config
 * registers: read-only bits keep their value and writable bits take the new one.
 * That single rule also gives BAR sizing for free — writing all-ones to BAR0 leaves
 * exactly the writable address bits set, which read back as the size mask.
 *
 * Config space is not part of the device stream: the VMM saves it and writes it back
 * on the target before RESUMING, so every guest-programmable field must be writable here.
 */
import { type ConfigSpaceImage, PCI_CFG } from "@mdevkit/core";
import { PORT_WINDOW } from "./uart.js";

/** mtty.c's vendor ID (0x4348). */
export const MTTY_VENDOR_ID = 0x4348;
/** mtty.c's device ID (0x3253). */
export const MTTY_DEVICE_ID = 0x3253;
/** Class code: simple communication controller (0x07), serial (0x00), 16550-compatible (0x02). */
export const MTTY_CLASS_CODE = 0x070002;

/** Offsets used below: the standard type 0 header fields (core's `PCI_CFG`). */
export const Cfg = PCI_CFG;

/** BAR0 bit 0: this BAR decodes I/O space (read-only). */
const BAR_IO_SPACE = 0x1;
/** COMMAND bits the device implements: I/O space, memory space, bus master, INTx disable. */
const COMMAND_WRITABLE = 0x0407;

/** Size of BAR0: one {@link PORT_WINDOW} per port (a power of two for 1, 2 or 4 ports). */
export function bar0Size(nrPorts: number): number {
  return nrPorts * PORT_WINDOW;
}

function put16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value & 0xff;
  bytes[offset + 1] = (value >>> 8) & 0xff;
}

function put32(bytes: Uint8Array, offset: number, value: number): void {
  put16(bytes, offset, value & 0xffff);
  put16(bytes, offset + 2, value >>> 16);
}

/** Builds the power-on header for a device with `nrPorts` ports. */
export function buildConfigSpace(nrPorts: number): ConfigSpaceImage {
  const bytes = new Uint8Array(256);
  const writeMask = new Uint8Array(256);
  put16(bytes, Cfg.VENDOR_ID, MTTY_VENDOR_ID);
  put16(bytes, Cfg.DEVICE_ID, MTTY_DEVICE_ID);
  put16(bytes, Cfg.COMMAND, 0x0001); // I/O decoding on, as mtty.c powers up
  put16(bytes, Cfg.STATUS, 0x0200); // DEVSEL medium timing; no capability list
  bytes[Cfg.REVISION] = 0x10;
  bytes[Cfg.CLASS_PROG_IF] = MTTY_CLASS_CODE & 0xff;
  bytes[Cfg.CLASS_PROG_IF + 1] = (MTTY_CLASS_CODE >>> 8) & 0xff;
  bytes[Cfg.CLASS_PROG_IF + 2] = MTTY_CLASS_CODE >>> 16;
  put32(bytes, Cfg.BAR0, BAR_IO_SPACE);
  put16(bytes, Cfg.SUBSYSTEM_VENDOR_ID, MTTY_VENDOR_ID);
  put16(bytes, Cfg.SUBSYSTEM_ID, MTTY_DEVICE_ID);
  bytes[Cfg.INTERRUPT_PIN] = 0x01; // INTA#, hardwired

  put16(writeMask, Cfg.COMMAND, COMMAND_WRITABLE);
  // BAR0: address bits above the BAR's size are writable; bits 0-1 (I/O flag, reserved) are not.
  put32(writeMask, Cfg.BAR0, ~(bar0Size(nrPorts) - 1) & ~0x3);
  writeMask[Cfg.INTERRUPT_LINE] = 0xff; // firmware/VMM scratch for the IRQ routing
  // Everything else, including BAR1-5 and the expansion ROM BAR, reads as fixed:
  // an unimplemented BAR sizes to 0, which is how a guest learns it is absent.
  return { bytes, writeMask };
}
