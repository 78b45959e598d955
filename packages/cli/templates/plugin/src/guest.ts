/**
 * The guest's driver, as much of it as a VM config needs. A simulated VM boots no guest OS,
 * so nothing would program the device: it would sit at power-on through a whole run — no
 * DMA, no state change — and a migration of it would carry nothing worth proving. Like the
 * driver a guest loads at boot (or again after a reset), {@link bringUp} programs a ring in
 * guest RAM and enables the device when it finds it at power-on. From then on every tick
 * DMAs a record: the ring head and counter move, guest RAM is dirtied through the DMA log,
 * and a migration must carry both for the target to continue the sequence.
 *
 * Replace it with your device's bring-up; keep some work per tick that a migration must carry.
 */
import { CTRL, type DeviceState, Reg } from "./device.js";

/** Where the guest puts its ring: inside the smallest VM (1 MiB), clear of page 0. */
export const GUEST_RING_BASE = 0x10000;
/** Ring length in records (1 KiB: it wraps within a second of 2 ms ticks). */
export const GUEST_RING_ENTRIES = 64;
/** What the guest writes to SCRATCH, so its records are told apart from a test's. */
export const GUEST_SCRATCH = 0x6775_6573;

/** The registers the guest programs the device through. */
export interface GuestMmio {
  /** A guest write of the u32 `value` to register `offset` (see `Reg`). */
  writeRegister(offset: number, value: number): void;
}

/**
 * Whether the device is as power-on left it (created, or reset): nothing programmed and
 * not enabled. A guest that programmed a ring and disabled the device is left alone.
 */
export function atPowerOn(s: Readonly<DeviceState>): boolean {
  return s.ctrl === 0 && s.ringEntries === 0;
}

/** Programs the guest's ring and enables the device, as a driver's probe would. */
export function bringUp(mmio: GuestMmio): void {
  mmio.writeRegister(Reg.SCRATCH, GUEST_SCRATCH);
  mmio.writeRegister(Reg.RING_BASE_LO, GUEST_RING_BASE);
  mmio.writeRegister(Reg.RING_BASE_HI, 0);
  mmio.writeRegister(Reg.RING_ENTRIES, GUEST_RING_ENTRIES);
  mmio.writeRegister(Reg.CTRL, CTRL.ENABLE);
}
