import { createHash } from "node:crypto";

/** Concatenates byte arrays into one new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** True when `a` and `b` hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Index of the first byte where `a` and `b` differ, or -1 when equal. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.byteLength, b.byteLength);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.byteLength === b.byteLength ? -1 : n;
}

/** Writes up to this long are kept whole in a fingerprint; longer ones are digested. */
const WHOLE_BYTES = 32;

/**
 * A value that equals another exactly when the same `bytes` were written at the same
 * `address`: the bytes themselves (hex) when short, otherwise 128 bits of SHA-256 over
 * address, length and bytes. Never a CRC: hardware records often end with the CRC of what
 * precedes them, and a CRC over such a record is the same constant whatever it holds.
 */
export function fingerprint(address: number, bytes: Uint8Array): string {
  if (bytes.byteLength <= WHOLE_BYTES) return Buffer.from(bytes).toString("hex");
  const prefix = new DataView(new ArrayBuffer(16));
  prefix.setBigUint64(0, BigInt(address), true);
  prefix.setBigUint64(8, BigInt(bytes.byteLength), true);
  const digest = createHash("sha256").update(new Uint8Array(prefix.buffer)).update(bytes);
  return `sha256:${digest.digest("hex").slice(0, 32)}`;
}

/** Hex dump of at most `max` bytes, for messages. */
export function hexPreview(bytes: Uint8Array, max = 32): string {
  const shown = Array.from(bytes.subarray(0, max), (b) => b.toString(16).padStart(2, "0")).join("");
  return bytes.byteLength > max ? `${shown}… (${bytes.byteLength} bytes)` : shown;
}

/**
 * Every offset where `value` appears in `haystack` as a little-endian integer of `width`
 * bytes (4 or 8). The host-value scan uses it: a host address copied into a stream is
 * almost always stored as a native u32 or u64.
 */
export function findLittleEndian(haystack: Uint8Array, value: bigint, width: 4 | 8): number[] {
  const needle = new Uint8Array(width);
  let v = value;
  for (let i = 0; i < width; i++) {
    needle[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  const hits: number[] = [];
  outer: for (let i = 0; i + width <= haystack.byteLength; i++) {
    for (let k = 0; k < width; k++) if (haystack[i + k] !== needle[k]) continue outer;
    hits.push(i);
  }
  return hits;
}
