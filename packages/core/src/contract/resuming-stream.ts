import { MdevError } from "../errors/mdev-error.js";
import type { MigrationDataStream } from "./migration-data-stream.js";

/**
 * The device side of a resuming session, used by {@link AbstractVendorDriver}: it
 * accumulates whatever chunks the VMM writes, bounded by the device's maximum state
 * size, and lets the driver validate a prefix (a header, a match block) as it arrives.
 */
export class ResumingStream implements MigrationDataStream {
  readonly direction = "resuming" as const;
  #buffer: Uint8Array;
  #length = 0;
  #closed = false;
  readonly #maxBytes: number;
  readonly #onData: (received: Uint8Array) => void;

  /**
   * @param maxBytes most bytes the device accepts; more is refused with E2BIG.
   * @param onData called after each write with every byte received so far; throwing
   *   refuses the write (the bytes stay received, the VMM aborts the load).
   */
  constructor(maxBytes: number, onData: (received: Uint8Array) => void = () => {}) {
    this.#maxBytes = maxBytes;
    this.#onData = onData;
    this.#buffer = new Uint8Array(Math.min(maxBytes, 64 * 1024));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes received so far (a view; valid until the next write). */
  received(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  /** Ends the session: later writes fail with ENODEV. */
  close(): void {
    this.#closed = true;
    this.#buffer = new Uint8Array(0);
    this.#length = 0;
  }

  async read(_maxBytes: number): Promise<Uint8Array> {
    throw new MdevError("EINVAL", "cannot read from a resuming stream");
  }

  async write(chunk: Uint8Array): Promise<number> {
    return this.writeSync(chunk);
  }

  /** Synchronous form of {@link ResumingStream.write}. */
  writeSync(chunk: Uint8Array): number {
    if (this.#closed) throw new MdevError("ENODEV", "write after the resuming session ended");
    const needed = this.#length + chunk.byteLength;
    if (needed > this.#maxBytes) {
      throw new MdevError(
        "E2BIG",
        `device state would be ${needed} bytes, more than the ${this.#maxBytes} this device accepts`,
      );
    }
    if (needed > this.#buffer.byteLength) {
      const grown = new Uint8Array(
        Math.min(this.#maxBytes, Math.max(needed, this.#buffer.byteLength * 2)),
      );
      grown.set(this.received());
      this.#buffer = grown;
    }
    this.#buffer.set(chunk, this.#length);
    this.#length = needed;
    this.#onData(this.received());
    return chunk.byteLength;
  }
}
