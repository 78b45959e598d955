/**
 * The mtty device-state stream, version 1.0. Little-endian throughout.
 *
 * Shape follows Linux's mtty sample: a 24-byte header, then one fixed-size block per
 * port, so the size is known from the port count alone and the target can check the
 * header the moment 24 bytes have arrived.
 *
 * Header (24 bytes):
 * | off | size | field    | value                                          |
 * |-----|------|----------|------------------------------------------------|
 * | 0   | 8    | magic    | {@link STREAM_MAGIC} ("MTTYMDK1" read big-endian) |
 * | 8   | 4    | major    | {@link STREAM_MAJOR}; any other value is refused |
 * | 12  | 4    | minor    | {@link STREAM_MINOR}; any other value is refused (fixed layout) |
 * | 16  | 4    | nrPorts  | must equal the target device's port count      |
 * | 20  | 4    | flags    | must be 0 (reserved, as in mtty.c)             |
 *
 * Port block ({@link PORT_BYTES} = 52 bytes), in port order:
 * | off | size | field    | range checked on load                        |
 * |-----|------|----------|----------------------------------------------|
 * | 0   | 1    | ier      | ≤ 0x0f                                       |
 * | 1   | 1    | lcr      | any                                          |
 * | 2   | 1    | mcr      | ≤ 0x1f                                       |
 * | 3   | 1    | scr      | any                                          |
 * | 4   | 1    | fcr      | only bits 0xc1                               |
 * | 5   | 1    | status   | only bits 0x07 (overrun, THRE pending, ring fault) |
 * | 6   | 2    | divisor  | any                                          |
 * | 8   | 1    | rxCount  | ≤ FIFO capacity implied by fcr (1 or 16)     |
 * | 9   | 1    | rxHead   | < 16                                         |
 * | 10  | 2    | reserved | 0                                            |
 * | 12  | 16   | fifo     | any                                          |
 * | 28  | 4    | wireSeq  | any (workload cursor, mdevkit extension)     |
 * | 32  | 8    | ringBase | ringBase + ringSize ≤ 2^53 (mdevkit DMA ring) |
 * | 40  | 4    | ringSize | ≤ 1 MiB                                      |
 * | 44  | 4    | ringHead | < ringSize, or 0 when the ring is off        |
 * | 48  | 4    | crc32    | CRC-32 (zlib) of bytes 0–47 of this block    |
 *
 * mtty.c copies its C `struct serial_port` (36 bytes) and checks nothing past the header;
 * mdevkit adds the ring, the workload cursor and a CRC, and range-checks every field,
 * because a stream is input from outside and a flipped bit must be refused, not loaded.
 *
 * Config space is not here: the VMM saves and restores it itself.
 */
import { crc32 } from "node:zlib";
import { MdevError } from "@mdevkit/core";
import {
  FIFO_SIZE,
  fifoCapacity,
  type PortState,
  RING_MAX_BYTES,
  STATUS_BITS,
  WRITABLE,
} from "./uart.js";

/** Stream magic: the bytes "MTTYMDK1" as a big-endian u64, stored little-endian. */
export const STREAM_MAGIC = 0x4d5454594d444b31n;
/** Major version of the layout above. */
export const STREAM_MAJOR = 1;
/** Minor version of the layout above. */
export const STREAM_MINOR = 0;
/** Header size; the resuming side checks it as soon as this many bytes arrived. */
export const HEADER_BYTES = 24;
/** Fixed size of one port block. */
export const PORT_BYTES = 52;
const CRC_OFFSET = 48;

/** Exact size of a whole stream for `nrPorts` ports. */
export function streamBytes(nrPorts: number): number {
  return HEADER_BYTES + nrPorts * PORT_BYTES;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function refuse(message: string): never {
  throw new MdevError("EINVAL", `mtty stream: ${message}`);
}

/** The 24-byte header for a device with `nrPorts` ports. */
export function encodeHeader(nrPorts: number): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES);
  const v = view(out);
  v.setBigUint64(0, STREAM_MAGIC, true);
  v.setUint32(8, STREAM_MAJOR, true);
  v.setUint32(12, STREAM_MINOR, true);
  v.setUint32(16, nrPorts, true);
  v.setUint32(20, 0, true);
  return out;
}

/**
 * Checks the first {@link HEADER_BYTES} of `bytes` against a device with
 * `expectedPorts` ports.
 * @throws MdevError EINVAL naming the first wrong field.
 */
export function checkHeader(bytes: Uint8Array, expectedPorts: number): void {
  if (bytes.byteLength < HEADER_BYTES)
    refuse(`header needs ${HEADER_BYTES} bytes, got ${bytes.byteLength}`);
  const v = view(bytes);
  const magic = v.getBigUint64(0, true);
  if (magic !== STREAM_MAGIC) {
    refuse(
      `header field magic is 0x${magic.toString(16)}, expected 0x${STREAM_MAGIC.toString(16)} (not an mtty stream)`,
    );
  }
  const major = v.getUint32(8, true);
  const minor = v.getUint32(12, true);
  if (major !== STREAM_MAJOR || minor !== STREAM_MINOR) {
    refuse(
      `header field version is ${major}.${minor}, this driver reads only ${STREAM_MAJOR}.${STREAM_MINOR}`,
    );
  }
  const nrPorts = v.getUint32(16, true);
  if (nrPorts !== expectedPorts)
    refuse(`header field nrPorts is ${nrPorts}, this device has ${expectedPorts}`);
  const flags = v.getUint32(20, true);
  if (flags !== 0) refuse(`header field flags is 0x${flags.toString(16)}, must be 0`);
}

/** The port blocks for `ports`, concatenated in port order. */
export function encodePorts(ports: readonly PortState[]): Uint8Array {
  const out = new Uint8Array(ports.length * PORT_BYTES);
  ports.forEach((p, i) => {
    const block = out.subarray(i * PORT_BYTES, (i + 1) * PORT_BYTES);
    const v = view(block);
    v.setUint8(0, p.ier);
    v.setUint8(1, p.lcr);
    v.setUint8(2, p.mcr);
    v.setUint8(3, p.scr);
    v.setUint8(4, p.fcr);
    v.setUint8(5, p.status);
    v.setUint16(6, p.divisor, true);
    v.setUint8(8, p.rxCount);
    v.setUint8(9, p.rxHead);
    block.set(p.fifo, 12);
    v.setUint32(28, p.wireSeq, true);
    v.setBigUint64(32, BigInt(p.ringBase), true);
    v.setUint32(40, p.ringSize, true);
    v.setUint32(44, p.ringHead, true);
    v.setUint32(CRC_OFFSET, crc32(block.subarray(0, CRC_OFFSET)), true);
  });
  return out;
}

/** Decodes and range-checks one port block; `i` only names the port in errors. */
function decodePort(block: Uint8Array, i: number): PortState {
  const v = view(block);
  const field = (name: string, value: number | string, rule: string): never =>
    refuse(`port ${i} field ${name} is ${value}, ${rule}`);
  const crc = v.getUint32(CRC_OFFSET, true);
  const actual = crc32(block.subarray(0, CRC_OFFSET));
  if (crc !== actual)
    field("crc32", `0x${crc.toString(16)}`, `computed 0x${actual.toString(16)} (corrupted block)`);

  const ier = v.getUint8(0);
  if ((ier & ~WRITABLE.IER) !== 0)
    field("ier", ier, `only bits 0x${WRITABLE.IER.toString(16)} exist`);
  const mcr = v.getUint8(2);
  if ((mcr & ~WRITABLE.MCR) !== 0)
    field("mcr", mcr, `only bits 0x${WRITABLE.MCR.toString(16)} exist`);
  const fcr = v.getUint8(4);
  if ((fcr & ~WRITABLE.FCR) !== 0)
    field("fcr", fcr, `only bits 0x${WRITABLE.FCR.toString(16)} are kept`);
  const status = v.getUint8(5);
  if ((status & ~STATUS_BITS) !== 0)
    field("status", status, `only bits 0x${STATUS_BITS.toString(16)} exist`);
  const rxCount = v.getUint8(8);
  if (rxCount > fifoCapacity(fcr))
    field(
      "rxCount",
      rxCount,
      `at most ${fifoCapacity(fcr)} (FIFO capacity for fcr 0x${fcr.toString(16)})`,
    );
  const rxHead = v.getUint8(9);
  if (rxHead >= FIFO_SIZE) field("rxHead", rxHead, `must be below ${FIFO_SIZE}`);
  const reserved = v.getUint16(10, true);
  if (reserved !== 0) field("reserved", reserved, "must be 0");
  const ringSize = v.getUint32(40, true);
  if (ringSize > RING_MAX_BYTES) field("ringSize", ringSize, `at most ${RING_MAX_BYTES}`);
  const ringBase = v.getBigUint64(32, true);
  if (ringBase + BigInt(ringSize) > BigInt(Number.MAX_SAFE_INTEGER)) {
    field("ringBase", `0x${ringBase.toString(16)}`, "ring must end below 2^53");
  }
  const ringHead = v.getUint32(44, true);
  if (ringSize === 0 ? ringHead !== 0 : ringHead >= ringSize) {
    field(
      "ringHead",
      ringHead,
      ringSize === 0 ? "must be 0 while the ring is off" : `must be below ringSize ${ringSize}`,
    );
  }
  return {
    ier,
    lcr: v.getUint8(1),
    mcr,
    scr: v.getUint8(3),
    fcr,
    status,
    divisor: v.getUint16(6, true),
    fifo: block.slice(12, 12 + FIFO_SIZE),
    rxHead,
    rxCount,
    ringBase: Number(ringBase),
    ringSize,
    ringHead,
    wireSeq: v.getUint32(28, true),
  };
}

/**
 * Decodes a complete stream for a device with `nrPorts` ports, checking its length,
 * header and every field. Returns fresh states; nothing is applied here, which is what
 * lets the caller load all-or-nothing.
 * @throws MdevError EINVAL naming what is wrong.
 */
export function decodeStream(bytes: Uint8Array, nrPorts: number): PortState[] {
  // Header first when there is one: "not an mtty stream" says more than a length mismatch.
  if (bytes.byteLength >= HEADER_BYTES) checkHeader(bytes, nrPorts);
  const expected = streamBytes(nrPorts);
  if (bytes.byteLength !== expected) {
    refuse(
      `stream is ${bytes.byteLength} bytes, a ${nrPorts}-port device needs exactly ${expected}`,
    );
  }
  const ports: PortState[] = [];
  for (let i = 0; i < nrPorts; i++) {
    const start = HEADER_BYTES + i * PORT_BYTES;
    ports.push(decodePort(bytes.subarray(start, start + PORT_BYTES), i));
  }
  return ports;
}
