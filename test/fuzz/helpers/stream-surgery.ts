// Cutting a migration stream into its records and putting it back together after an edit,
// with every CRC (and the header's config digest) recomputed: a mutation that only breaks a
// CRC is refused by the first check and tests nothing else, so the fuzzer re-seals what it
// changed and reaches the rules behind the CRC (lengths, ranges, order, END's totals).
import { createHash } from "node:crypto";
import {
  FRAME_HEADER_LENGTH,
  FRAME_TRAILER_LENGTH,
  HEADER_LENGTH,
  RecordType,
} from "@mdevkit/core";
import { crc32c } from "@node-rs/crc32";

/** A stream split into its 52-byte header and whole records (frame, payload, CRC). */
export interface SplitStream {
  readonly header: Uint8Array;
  readonly records: Uint8Array[];
  /** Bytes after the last whole record (a valid stream has none). */
  readonly tail: Uint8Array;
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** Splits a well-formed stream; stops at the first frame that does not fit. */
export function splitStream(bytes: Uint8Array): SplitStream {
  const header = bytes.slice(0, HEADER_LENGTH);
  const records: Uint8Array[] = [];
  let at = HEADER_LENGTH;
  while (at + FRAME_HEADER_LENGTH <= bytes.byteLength) {
    const length = view(bytes).getUint32(at + 8, true);
    const end = at + FRAME_HEADER_LENGTH + length + FRAME_TRAILER_LENGTH;
    if (end > bytes.byteLength) break;
    records.push(bytes.slice(at, end));
    at = end;
  }
  return { header, records, tail: bytes.slice(at) };
}

/** Concatenates a split stream back into bytes. */
export function joinStream(s: SplitStream): Uint8Array {
  return new Uint8Array(Buffer.concat([s.header, ...s.records, s.tail]));
}

/** A record's type field. */
export function recordTypeOf(record: Uint8Array): number {
  return view(record).getUint16(0, true);
}

/** The payload view of a whole record. */
export function payloadOf(record: Uint8Array): Uint8Array {
  return record.subarray(FRAME_HEADER_LENGTH, record.byteLength - FRAME_TRAILER_LENGTH);
}

/** Recomputes a record's CRC32C trailer over its frame header and payload, in place. */
export function resealRecord(record: Uint8Array): Uint8Array {
  const end = record.byteLength - FRAME_TRAILER_LENGTH;
  view(record).setUint32(end, crc32c(record.subarray(0, end)), true);
  return record;
}

/** A new record of `type` and `seq` around `payload`, sealed. */
export function makeRecord(type: number, seq: number, payload: Uint8Array): Uint8Array {
  const r = new Uint8Array(FRAME_HEADER_LENGTH + payload.byteLength + FRAME_TRAILER_LENGTH);
  const v = view(r);
  v.setUint16(0, type, true);
  v.setUint32(4, seq, true);
  v.setUint32(8, payload.byteLength, true);
  r.set(payload, FRAME_HEADER_LENGTH);
  return resealRecord(r);
}

/** Sets every record's seq to its index and re-seals it (so only deeper rules can refuse). */
export function renumber(records: Uint8Array[]): Uint8Array[] {
  return records.map((r, i) => {
    const copy = r.slice();
    view(copy).setUint32(4, i, true);
    return resealRecord(copy);
  });
}

/** Recomputes the header's CRC32C (bytes 48..51 over 0..47), in place. */
export function resealHeader(header: Uint8Array): Uint8Array {
  if (header.byteLength < HEADER_LENGTH) return header; // cut short by an earlier edit
  view(header).setUint32(HEADER_LENGTH - 4, crc32c(header.subarray(0, HEADER_LENGTH - 4)), true);
  return header;
}

/**
 * The config length a HANDSHAKE payload declares, clipped to what it holds: an earlier
 * edit may have cut the payload or set the field to anything.
 */
function configLength(payload: Uint8Array): number {
  if (payload.byteLength < 4) return 0;
  return Math.min(view(payload).getUint32(0, true), payload.byteLength - 4);
}

/** The VM config JSON text the HANDSHAKE (record 0) carries. */
export function configOf(s: SplitStream): string {
  const p = payloadOf(s.records[0] ?? new Uint8Array(FRAME_HEADER_LENGTH + 8));
  return new TextDecoder().decode(p.subarray(4, 4 + configLength(p)));
}

/**
 * Replaces the HANDSHAKE's config with `config`, keeping the manifest, and makes the
 * stream consistent again: the header's SHA-256 of the config, its CRC, the record's
 * length and CRC. What a peer (or a file editor) that knows the format would send.
 */
export function withConfig(s: SplitStream, config: Uint8Array): SplitStream {
  const first = s.records[0];
  if (first === undefined || recordTypeOf(first) !== RecordType.HANDSHAKE) return s;
  const p = payloadOf(first);
  const manifest = p.subarray(Math.min(p.byteLength, 4 + configLength(p)));
  const payload = new Uint8Array(4 + config.byteLength + manifest.byteLength);
  view(payload).setUint32(0, config.byteLength, true);
  payload.set(config, 4);
  payload.set(manifest, 4 + config.byteLength);
  const header = s.header.slice();
  if (header.byteLength >= HEADER_LENGTH)
    header.set(createHash("sha256").update(config).digest(), 16);
  resealHeader(header);
  return {
    header,
    records: [makeRecord(RecordType.HANDSHAKE, 0, payload), ...s.records.slice(1)],
    tail: s.tail,
  };
}
