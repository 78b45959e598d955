// Device images taken apart and put back together. The three plugins built on core's
// StateWriter send one or more "MDST" documents (header, then tagged sections each with a
// CRC32C); mtty sends its own header and CRC-32-sealed port blocks. An edit made through
// these structures is re-sealed — lengths, body length and every CRC recomputed — so the
// load reaches the plugin's own field checks instead of stopping at a CRC.
import { crc32 as zlibCrc32 } from "node:zlib";
import { crc32c } from "@node-rs/crc32";

/** One section of a state document. */
export interface Section {
  tag: Uint8Array;
  version: number;
  flags: number;
  payload: Uint8Array;
}

/** A piece of an image: a state document, or bytes that are not one. */
export type Segment =
  | { kind: "doc"; format: number; reserved: number; sections: Section[] }
  | { kind: "raw"; bytes: Uint8Array };

const MAGIC = [0x4d, 0x44, 0x53, 0x54]; // "MDST"
const DOC_HEADER = 12;
const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

function parseDoc(b: Uint8Array): Section[] | undefined {
  const sections: Section[] = [];
  let at = DOC_HEADER;
  while (at < b.byteLength) {
    const tagLength = b[at] ?? 0;
    const fixed = at + 1 + tagLength + 12;
    if (fixed > b.byteLength) return undefined;
    const v = view(b);
    const length = v.getUint32(at + 1 + tagLength + 4, true);
    if (fixed + length > b.byteLength) return undefined;
    sections.push({
      tag: b.slice(at + 1, at + 1 + tagLength),
      version: v.getUint16(at + 1 + tagLength, true),
      flags: v.getUint16(at + 1 + tagLength + 2, true),
      payload: b.slice(fixed, fixed + length),
    });
    at = fixed + length;
  }
  return sections;
}

/** Splits an image into state documents and raw stretches. */
export function parseImage(bytes: Uint8Array): Segment[] {
  const out: Segment[] = [];
  let at = 0;
  let rawFrom = 0;
  while (at + DOC_HEADER <= bytes.byteLength) {
    const isDoc = MAGIC.every((m, i) => bytes[at + i] === m);
    const body = isDoc ? view(bytes).getUint32(at + 8, true) : 0;
    const doc =
      isDoc && at + DOC_HEADER + body <= bytes.byteLength
        ? parseDoc(bytes.subarray(at, at + DOC_HEADER + body))
        : undefined;
    if (doc === undefined) {
      at++;
      continue;
    }
    if (at > rawFrom) out.push({ kind: "raw", bytes: bytes.slice(rawFrom, at) });
    const v = view(bytes);
    out.push({
      kind: "doc",
      format: v.getUint16(at + 4, true),
      reserved: v.getUint16(at + 6, true),
      sections: doc,
    });
    at += DOC_HEADER + body;
    rawFrom = at;
  }
  if (rawFrom < bytes.byteLength) out.push({ kind: "raw", bytes: bytes.slice(rawFrom) });
  return out;
}

function serializeSection(s: Section): Uint8Array {
  const head = new Uint8Array(1 + s.tag.byteLength + 12);
  const v = view(head);
  head[0] = s.tag.byteLength & 0xff;
  head.set(s.tag, 1);
  const at = 1 + s.tag.byteLength;
  v.setUint16(at, s.version & 0xffff, true);
  v.setUint16(at + 2, s.flags & 0xffff, true);
  v.setUint32(at + 4, s.payload.byteLength, true);
  v.setUint32(at + 8, crc32c(s.payload, crc32c(head.subarray(0, at + 8))), true);
  return new Uint8Array(Buffer.concat([head, s.payload]));
}

/** Writes segments back, every length and CRC recomputed. */
export function serializeImage(segments: readonly Segment[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const seg of segments) {
    if (seg.kind === "raw") {
      parts.push(resealMtty(seg.bytes));
      continue;
    }
    const body = Buffer.concat(seg.sections.map(serializeSection));
    const head = new Uint8Array(DOC_HEADER);
    head.set(MAGIC);
    view(head).setUint16(4, seg.format & 0xffff, true);
    view(head).setUint16(6, seg.reserved & 0xffff, true);
    view(head).setUint32(8, body.byteLength, true);
    parts.push(head, body);
  }
  return new Uint8Array(Buffer.concat(parts));
}

// mtty's layout (plugins/mtty/src/migration-format.ts): 24-byte header, 52-byte port blocks
// each ending in a CRC-32 (zlib) of its first 48 bytes. Magic "MTTYMDK1" as a big-endian
// u64 stored little-endian.
const MTTY_MAGIC = Buffer.from("MTTYMDK1", "latin1").reverse();
const MTTY_HEADER = 24;
const MTTY_PORT = 52;

/** Re-seals every whole mtty port block of `bytes` when it is an mtty image (a copy). */
export function resealMtty(bytes: Uint8Array): Uint8Array {
  if (!Buffer.from(bytes.subarray(0, 8)).equals(MTTY_MAGIC)) return bytes;
  const out = bytes.slice();
  for (let at = MTTY_HEADER; at + MTTY_PORT <= out.byteLength; at += MTTY_PORT) {
    view(out).setUint32(at + 48, zlibCrc32(out.subarray(at, at + 48)) >>> 0, true);
  }
  return out;
}
