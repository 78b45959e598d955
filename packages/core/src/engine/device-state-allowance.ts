import type { MigrationDataStream } from "../contract/migration-data-stream.js";
import { MdevError } from "../errors/mdev-error.js";

const MIB = 2 ** 20;

/**
 * The device state one incoming VM's devices may take in while it loads, shared by all of
 * its resuming streams. Each driver bounds its own stream (its `maxStateBytes`), but a VM
 * may have 32 devices and a vGPU's bound is tens of MiB for GGTT deltas it never sends in
 * practice: without a bound over the whole VM, a source could make the target buffer
 * gigabytes of device state outside its memory budget, which counts guest RAM.
 */
export class DeviceStateAllowance {
  /** The allowance, bytes. */
  readonly maxBytes: number;
  #taken = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Bytes the VM's devices took in so far. */
  get taken(): number {
    return this.#taken;
  }

  /**
   * `stream`, whose writes first take their bytes from this allowance: ENOMEM for a write
   * past it, before the device sees any of it.
   */
  bound(stream: MigrationDataStream): MigrationDataStream {
    return new BoundedResumingStream(stream, (bytes) => this.#take(bytes));
  }

  #take(bytes: number): void {
    if (this.#taken + bytes > this.maxBytes) {
      throw new MdevError(
        "ENOMEM",
        `the VM's devices sent more than the ${this.maxBytes / MIB} MiB of device state this target takes from one VM`,
      );
    }
    this.#taken += bytes;
  }
}

/** A resuming stream whose writes are charged to a {@link DeviceStateAllowance} first. */
class BoundedResumingStream implements MigrationDataStream {
  readonly #stream: MigrationDataStream;
  readonly #take: (bytes: number) => void;

  constructor(stream: MigrationDataStream, take: (bytes: number) => void) {
    this.#stream = stream;
    this.#take = take;
  }

  get direction(): MigrationDataStream["direction"] {
    return this.#stream.direction;
  }

  get closed(): boolean {
    return this.#stream.closed;
  }

  read(maxBytes: number): Promise<Uint8Array> {
    return this.#stream.read(maxBytes);
  }

  async write(chunk: Uint8Array): Promise<number> {
    this.#take(chunk.byteLength);
    return this.#stream.write(chunk);
  }
}
