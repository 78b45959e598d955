/**
 * The Toeplitz hash of Microsoft RSS, as NICs compute it: for every set bit of the
 * input, XOR in the 32-bit window of the key that starts at that bit.
 */

/** The RSS key of Microsoft's verification suite (also the Linux default of many drivers). */
export const MS_RSS_KEY: Uint8Array = Uint8Array.from([
  0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
  0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
  0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
]);

/**
 * Toeplitz hash of `input` under `key` (the key must be at least `input.length + 4` bytes).
 * @throws RangeError when the key is too short for the input.
 */
export function toeplitz(key: Uint8Array, input: Uint8Array): number {
  if (key.byteLength < input.byteLength + 4)
    throw new RangeError(
      `Toeplitz key of ${key.byteLength} bytes is too short for ${input.byteLength} input bytes`,
    );
  let result = 0;
  // The 32-bit key window, advanced one bit per input bit.
  let window = ((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!) >>> 0;
  for (let i = 0; i < input.byteLength; i++) {
    const next = key[i + 4]!;
    for (let b = 7; b >= 0; b--) {
      if ((input[i]! >> b) & 1) result = (result ^ window) >>> 0;
      window = ((window << 1) | ((next >> b) & 1)) >>> 0;
    }
  }
  return result >>> 0;
}

/** An IPv4 TCP/UDP flow as RSS sees it. */
export interface FiveTuple {
  /** Source IPv4 address as a u32. */
  readonly srcIp: number;
  /** Destination IPv4 address as a u32. */
  readonly dstIp: number;
  readonly srcPort: number;
  readonly dstPort: number;
  /** IP protocol (6 TCP, 17 UDP); not hashed by RSS, kept for completeness. */
  readonly proto: number;
}

/** The 12-byte RSS input of an IPv4 4-tuple: src ip, dst ip, src port, dst port (big-endian). */
export function rssInput(t: FiveTuple): Uint8Array {
  const out = new Uint8Array(12);
  const v = new DataView(out.buffer);
  v.setUint32(0, t.srcIp >>> 0);
  v.setUint32(4, t.dstIp >>> 0);
  v.setUint16(8, t.srcPort);
  v.setUint16(10, t.dstPort);
  return out;
}
