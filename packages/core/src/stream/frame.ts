import { crc32c } from "@node-rs/crc32";
import { ByteBuilder } from "./byte-builder.js";
import { FRAME_HEADER_LENGTH, FRAME_TRAILER_LENGTH } from "./format.js";

/** Writes the 12-byte frame header at the start of `b`. */
function writeFrameHeader(b: ByteBuilder, type: number, seq: number, length: number): void {
  b.u16(type).u16(0).u32(seq).u32(length);
}

/**
 * Frames a small record into one buffer: header, payload written by `fill`, CRC trailer.
 * One buffer means one write call for control records.
 */
export function frameWhole(
  type: number,
  seq: number,
  payloadLength: number,
  fill: (b: ByteBuilder) => void,
): Uint8Array {
  const total = FRAME_HEADER_LENGTH + payloadLength + FRAME_TRAILER_LENGTH;
  const b = new ByteBuilder(total);
  writeFrameHeader(b, type, seq, payloadLength);
  fill(b);
  const crc = crc32c(b.bytes.subarray(0, total - FRAME_TRAILER_LENGTH));
  b.u32At(total - FRAME_TRAILER_LENGTH, crc);
  return b.bytes;
}

/**
 * Frames a record whose payload is a small head (written by `fillHead`) followed by bulk
 * views that are passed through untouched — the zero-copy path for guest pages and device
 * data. Returns `[frameHeader+head, ...bulk, crc]`, ready for one corked writev.
 * `bulkCrc`, when given, computes the CRC over the bulk from the head's CRC.
 */
export function frameWithBulk(
  type: number,
  seq: number,
  headLength: number,
  fillHead: (b: ByteBuilder) => void,
  bulk: readonly Uint8Array[],
  bulkCrc?: (headCrc: number) => number,
): Uint8Array[] {
  let bulkLength = 0;
  for (const v of bulk) bulkLength += v.byteLength;
  const head = new ByteBuilder(FRAME_HEADER_LENGTH + headLength);
  writeFrameHeader(head, type, seq, headLength + bulkLength);
  fillHead(head);
  let crc = crc32c(head.bytes);
  // `bulkCrc` extends the head's CRC over the bulk from CRCs the caller already has
  // (RAM pages: their per-page CRCs), instead of hashing the bytes a second time.
  if (bulkCrc) crc = bulkCrc(crc);
  else for (const v of bulk) crc = crc32c(v, crc);
  const trailer = new ByteBuilder(FRAME_TRAILER_LENGTH).u32(crc);
  const frames: Uint8Array[] = [head.bytes];
  for (const v of bulk) if (v.byteLength > 0) frames.push(v);
  frames.push(trailer.bytes);
  return frames;
}

/**
 * Frames an already-encoded payload as record `type` number `seq`, CRC included: for tools
 * that build or repair streams byte by byte (fault injection, fuzzing, tests that edit a
 * save and must keep every frame well-formed so only the rule under test can refuse it).
 */
export function frameRecord(type: number, seq: number, payload: Uint8Array): Uint8Array {
  return frameWhole(type, seq, payload.byteLength, (b) => b.raw(payload));
}
