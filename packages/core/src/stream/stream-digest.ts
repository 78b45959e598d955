import { createHash, type Hash } from "node:crypto";

/**
 * SHA-256, the digest of the stream's END record and of the header's config digest.
 * Chosen because node:crypto runs it natively (SHA-NI on current x86) at well over a GB/s,
 * it needs no dependency, and unlike a CRC it is not forgeable by a faulty peer by accident.
 */
export function sha256(...parts: readonly Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** An incremental SHA-256, fed in stream order (one per device slot, or over guest RAM). */
export class StreamDigest {
  readonly #hash: Hash = createHash("sha256");
  #bytes = 0;

  /** Bytes fed so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Feeds the next bytes. */
  update(bytes: Uint8Array): void {
    this.#hash.update(bytes);
    this.#bytes += bytes.byteLength;
  }

  /** The digest of everything fed so far; more may be fed afterwards. */
  digest(): Uint8Array {
    return new Uint8Array(this.#hash.copy().digest());
  }
}

/** True when two digests are equal byte for byte. */
export function digestsEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A device's digest in END: SHA-256 over the SHA-256 of its DEVICE_DATA bytes (stream order)
 * followed by its config space as DEVICE_CONFIG carried it. Both parts of a device's state
 * are covered, so a config edited on the wire or in a file (CRC recomputed) is refused at
 * END. Hashing the fixed-length data digest first keeps the two parts from sliding into
 * each other, and lets the data be hashed as it streams although the config arrives later.
 */
export function deviceDigest(dataDigest: Uint8Array, config: Uint8Array): Uint8Array {
  return sha256(dataDigest, config);
}
