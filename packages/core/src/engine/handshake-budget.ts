import { MdevError } from "../errors/mdev-error.js";

/**
 * Default {@link HandshakeBudget}: 16 MiB, three HANDSHAKEs of the largest size the default
 * stream limits allow (5,292,422 bytes: a 1 MiB VM config and 64 devices with 64 KiB
 * compatibility blobs) at once, or thousands of real ones (a device-less VM's is under
 * 200 bytes).
 */
export const DEFAULT_HANDSHAKE_BUDGET_BYTES = 16 * 1024 * 1024;

/**
 * The bytes the connections of one listener may buffer, all together, for HANDSHAKEs that
 * have not arrived whole yet. Each connection's HANDSHAKE is bounded by the stream limits
 * (about 5 MiB), but a listener serves any number of connections at once: without a shared
 * bound, N peers that each declare a large HANDSHAKE and send all of it but a byte would
 * cost the listener N × 5 MiB before any of them was judged. A HANDSHAKE's declared length
 * is claimed at its frame header, before its payload is buffered; a claim that does not fit
 * is refused (EBUSY) and its connection dropped. Share one between every
 * {@link MigrationTarget} of a listener.
 */
export class HandshakeBudget {
  /** The budget, bytes. */
  readonly bytes: number;
  #claimed = 0;

  constructor(bytes: number = DEFAULT_HANDSHAKE_BUDGET_BYTES) {
    if (!Number.isSafeInteger(bytes) || bytes < 1)
      throw new MdevError("EINVAL", `handshake budget ${bytes} bytes is not a positive integer`);
    this.bytes = bytes;
  }

  /** Bytes claimed now by HANDSHAKEs still arriving. */
  get claimed(): number {
    return this.#claimed;
  }

  /**
   * Claims `bytes` for a HANDSHAKE that is arriving; returns its release (idempotent), to be
   * called once the HANDSHAKE arrived whole or its connection ended.
   * @throws MdevError EBUSY when the claim does not fit beside those already held.
   */
  claim(bytes: number): () => void {
    if (this.#claimed + bytes > this.bytes) {
      throw new MdevError(
        "EBUSY",
        `a HANDSHAKE of ${bytes} bytes does not fit: ${this.#claimed} of this target's ${this.bytes} bytes for arriving HANDSHAKEs are taken`,
      );
    }
    this.#claimed += bytes;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#claimed -= bytes;
    };
  }
}
