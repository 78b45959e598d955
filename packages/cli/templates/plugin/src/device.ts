/**
 * The device model: a register file and a counter that DMAs one 16-byte record into a
 * guest ring buffer on every activity tick. Nothing here knows about migration; the
 * driver (`driver.ts`) gates it while stopped and `state-format.ts` saves it.
 *
 * Register window (BAR0, 32-bit registers, little-endian):
 *
 * | off  | name           | access | meaning                                                   |
 * |------|----------------|--------|-----------------------------------------------------------|
 * | 0x00 | `ID`           | RO     | {@link DEVICE_ID}                                         |
 * | 0x04 | `CTRL`         | RW     | bit 0 ENABLE (a record per tick), bit 1 IRQ_ENABLE        |
 * | 0x08 | `STATUS`       | RO/W1C | bit 0 RING_FAULT (DMA faulted, ring halted), bit 1 IRQ_PENDING (write 1 to clear) |
 * | 0x0c | `SCRATCH`      | RW     | copied into every record                                  |
 * | 0x10 | `RING_BASE_LO` | RW     | guest IOVA of the ring, low 32 bits                       |
 * | 0x14 | `RING_BASE_HI` | RW     | IOVA bits 32–52 (higher bits read as 0)                   |
 * | 0x18 | `RING_ENTRIES` | RW     | ring length in records, 0 = off; writing rewinds the head and clears RING_FAULT |
 * | 0x1c | `RING_HEAD`    | RO     | slot the next record goes to                              |
 * | 0x20 | `COUNTER`      | RO     | records written since reset (wraps at 2^32)               |
 *
 * Record: u32 sequence (COUNTER before the write), u32 SCRATCH, u32 payload (a pure
 * function of the seed and the sequence), u32 CRC-32 of the first 12 bytes.
 */
import { crc32 } from "node:zlib";
import { MdevError, mix32 } from "@mdevkit/core";

/** Register offsets in BAR0. */
export const Reg = {
  ID: 0x00,
  CTRL: 0x04,
  STATUS: 0x08,
  SCRATCH: 0x0c,
  RING_BASE_LO: 0x10,
  RING_BASE_HI: 0x14,
  RING_ENTRIES: 0x18,
  RING_HEAD: 0x1c,
  COUNTER: 0x20,
} as const;

/** Size of the register window in bytes. */
export const REGISTER_WINDOW = 0x24;

/** Value of the read-only ID register. */
export const DEVICE_ID = 0x4d44_0001;

/** PCI vendor ID in config space. A placeholder: use your vendor's. */
export const PCI_VENDOR_ID = 0x4d44;
/** PCI device ID in config space. */
export const PCI_DEVICE_ID = 0x0001;

/** The interrupt vector the device raises. */
export const IRQ_VECTOR = 0;

/** CTRL bits. */
export const CTRL = { ENABLE: 0x1, IRQ_ENABLE: 0x2 } as const;
/** Every defined CTRL bit; the others read as 0. */
export const CTRL_MASK = CTRL.ENABLE | CTRL.IRQ_ENABLE;

/** STATUS bits. */
export const STATUS = { RING_FAULT: 0x1, IRQ_PENDING: 0x2 } as const;
/** Every defined STATUS bit. */
export const STATUS_MASK = STATUS.RING_FAULT | STATUS.IRQ_PENDING;

/** Bytes of one ring record. */
export const RECORD_BYTES = 16;
/** Longest ring in records (64 KiB); a longer one is refused. */
export const MAX_RING_ENTRIES = 4096;
/** Highest valid RING_BASE_HI: IOVAs stay below 2^53, where JavaScript numbers are exact. */
const BASE_HI_MASK = 0x1f_ffff;

/** The device's guest-visible state: everything that is migrated. */
export interface DeviceState {
  ctrl: number;
  status: number;
  scratch: number;
  /** Guest IOVA of the ring (< 2^53). */
  ringBase: number;
  ringEntries: number;
  ringHead: number;
  counter: number;
}

/** State after power-on or reset. */
export function powerOnState(): DeviceState {
  return { ctrl: 0, status: 0, scratch: 0, ringBase: 0, ringEntries: 0, ringHead: 0, counter: 0 };
}

/** What the device may do to the outside world; the driver wires and gates these. */
export interface DeviceIo {
  /** DMA `bytes` to guest IOVA `iova`; false when the IOMMU refused it. */
  dmaWrite(iova: number, bytes: Uint8Array): boolean;
  /** Raise the device's interrupt. */
  raiseIrq(): void;
}

/**
 * The payload of record `seq`. A counter-based generator keyed by the migrated counter,
 * not a stateful PRNG: the target, seeded like the source, continues the same sequence
 * with nothing extra in the stream.
 */
export function recordPayload(seed: number, seq: number): number {
  return mix32(mix32(seed) ^ seq);
}

/** The 16-byte record with sequence number `seq`. */
export function encodeRecord(seed: number, seq: number, scratch: number): Uint8Array {
  const out = new Uint8Array(RECORD_BYTES);
  const v = new DataView(out.buffer);
  v.setUint32(0, seq, true);
  v.setUint32(4, scratch, true);
  v.setUint32(8, recordPayload(seed, seq), true);
  v.setUint32(12, crc32(out.subarray(0, 12)), true);
  return out;
}

/**
 * A guest read of register `offset`.
 * @throws MdevError EINVAL for an offset outside the window or not 4-byte aligned.
 */
export function readRegister(s: DeviceState, offset: number): number {
  switch (checkOffset(offset)) {
    case Reg.ID:
      return DEVICE_ID;
    case Reg.CTRL:
      return s.ctrl;
    case Reg.STATUS:
      return s.status;
    case Reg.SCRATCH:
      return s.scratch;
    case Reg.RING_BASE_LO:
      return s.ringBase % 2 ** 32;
    case Reg.RING_BASE_HI:
      return Math.floor(s.ringBase / 2 ** 32);
    case Reg.RING_ENTRIES:
      return s.ringEntries;
    case Reg.RING_HEAD:
      return s.ringHead;
    default:
      // Reg.COUNTER: checkOffset let through only the registers above and this one.
      return s.counter;
  }
}

/**
 * A guest write of the u32 `value` to register `offset`. Read-only registers ignore
 * writes, as hardware does.
 * @throws MdevError EINVAL for a bad offset, or a ring longer than {@link MAX_RING_ENTRIES}.
 */
export function writeRegister(s: DeviceState, offset: number, value: number): void {
  switch (checkOffset(offset)) {
    case Reg.CTRL:
      s.ctrl = value & CTRL_MASK;
      break;
    case Reg.STATUS:
      // Write-one-to-clear for IRQ_PENDING; RING_FAULT clears only by reprogramming the ring.
      s.status &= ~(value & STATUS.IRQ_PENDING);
      break;
    case Reg.SCRATCH:
      s.scratch = value;
      break;
    case Reg.RING_BASE_LO:
      s.ringBase = Math.floor(s.ringBase / 2 ** 32) * 2 ** 32 + value;
      break;
    case Reg.RING_BASE_HI:
      s.ringBase = (value & BASE_HI_MASK) * 2 ** 32 + (s.ringBase % 2 ** 32);
      break;
    case Reg.RING_ENTRIES:
      if (value > MAX_RING_ENTRIES) {
        throw new MdevError(
          "EINVAL",
          `ring of ${value} entries exceeds the device's ${MAX_RING_ENTRIES}`,
        );
      }
      s.ringEntries = value;
      s.ringHead = 0;
      s.status &= ~STATUS.RING_FAULT;
      break;
    default:
      break;
  }
}

function checkOffset(offset: number): number {
  if (!Number.isInteger(offset) || offset < 0 || offset >= REGISTER_WINDOW || offset % 4 !== 0) {
    throw new MdevError(
      "EINVAL",
      `register offset ${offset} is not a 4-byte register of the ${REGISTER_WINDOW}-byte window`,
    );
  }
  return offset;
}

/**
 * One activity step: when enabled and a ring is programmed, DMA the next record into the
 * ring, advance head and counter, and interrupt if asked. A refused DMA halts the ring
 * (RING_FAULT) until the guest reprograms it: the fault is the guest's bug, not the host's.
 */
export function step(s: DeviceState, seed: number, io: DeviceIo): void {
  if ((s.ctrl & CTRL.ENABLE) === 0 || s.ringEntries === 0) return;
  if ((s.status & STATUS.RING_FAULT) !== 0) return;
  const record = encodeRecord(seed, s.counter, s.scratch);
  if (!io.dmaWrite(s.ringBase + s.ringHead * RECORD_BYTES, record)) {
    s.status |= STATUS.RING_FAULT;
    return;
  }
  s.ringHead = (s.ringHead + 1) % s.ringEntries;
  s.counter = (s.counter + 1) >>> 0;
  if ((s.ctrl & CTRL.IRQ_ENABLE) !== 0) {
    s.status |= STATUS.IRQ_PENDING;
    io.raiseIrq();
  }
}
