import { MdevError } from "../errors/mdev-error.js";
import type { MigrationDataStream } from "./migration-data-stream.js";

interface Chunk {
  bytes: Uint8Array;
  offset: number;
  /** Whether these bytes count towards `initialBytes` (else `dirtyBytes`) of precopy info. */
  initial: boolean;
}

/**
 * The device side of a saving session, used by {@link AbstractVendorDriver}: the driver
 * pushes bytes, the VMM reads them with the uAPI's end-of-data semantics.
 */
export class SavingStream implements MigrationDataStream {
  readonly direction = "saving" as const;
  #queue: Chunk[] = [];
  #phase: "precopy" | "stopcopy";
  #final = false;
  #closed = false;
  #initialBytes = 0;
  #dirtyBytes = 0;
  readonly #collect: () => Uint8Array | undefined;

  /**
   * @param phase `"precopy"` when opened by RUNNING(_P2P) → PRE_COPY(_P2P), `"stopcopy"` when opened by STOP → STOP_COPY.
   * @param collect called when a precopy read finds the queue empty; returns new bytes
   *   describing state changed since the last collection, or nothing (ENOMSG).
   */
  constructor(
    phase: "precopy" | "stopcopy",
    collect: () => Uint8Array | undefined = () => undefined,
  ) {
    this.#phase = phase;
    this.#collect = collect;
  }

  /** True once the session ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Unread bytes of the initial precopy data. */
  get initialBytes(): number {
    return this.#initialBytes;
  }

  /** Unread bytes queued after the initial data. */
  get queuedDirtyBytes(): number {
    return this.#dirtyBytes;
  }

  /** Queues bytes; `initial` marks the initial precopy data that precopy info reports. */
  push(bytes: Uint8Array, initial = false): void {
    if (this.#closed) throw new MdevError("ENODEV", "saving session already ended");
    if (this.#final) throw new MdevError("EINVAL", "saving stream already holds its final state");
    if (bytes.byteLength === 0) return;
    this.#queue.push({ bytes, offset: 0, initial });
    if (initial) this.#initialBytes += bytes.byteLength;
    else this.#dirtyBytes += bytes.byteLength;
  }

  /** Switches to the STOP_COPY phase with the device's final bytes; the end becomes permanent. */
  finish(finalBytes: Uint8Array): void {
    this.push(finalBytes);
    this.#phase = "stopcopy";
    this.#final = true;
  }

  /** Ends the session: later reads fail with ENODEV. */
  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#initialBytes = 0;
    this.#dirtyBytes = 0;
  }

  async read(maxBytes: number): Promise<Uint8Array> {
    return this.readSync(maxBytes);
  }

  /** Synchronous form of {@link SavingStream.read}, for drivers and tests. */
  readSync(maxBytes: number): Uint8Array {
    if (this.#closed) throw new MdevError("ENODEV", "read after the saving session ended");
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
      throw new MdevError("EINVAL", `read size ${maxBytes} must be a positive integer`);
    }
    if (this.#queue.length === 0 && this.#phase === "precopy") {
      const more = this.#collect();
      if (more !== undefined) this.push(more);
    }
    const head = this.#queue[0];
    if (head === undefined) {
      if (this.#phase === "precopy") {
        throw new MdevError(
          "ENOMSG",
          "no precopy data available now; more may come while the device runs",
        );
      }
      return new Uint8Array(0);
    }
    const available = head.bytes.byteLength - head.offset;
    const n = Math.min(available, maxBytes);
    const out = head.bytes.subarray(head.offset, head.offset + n);
    head.offset += n;
    if (head.initial) this.#initialBytes -= n;
    else this.#dirtyBytes -= n;
    if (head.offset === head.bytes.byteLength) this.#queue.shift();
    return out;
  }

  async write(_chunk: Uint8Array): Promise<number> {
    throw new MdevError("EINVAL", "cannot write to a saving stream");
  }
}
