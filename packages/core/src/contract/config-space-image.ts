import { MdevError } from "../errors/mdev-error.js";

/** Offsets of the PCI type 0 header fields devices commonly fill (PCI local bus spec). */
export const PCI_CFG = {
  VENDOR_ID: 0x00,
  DEVICE_ID: 0x02,
  COMMAND: 0x04,
  STATUS: 0x06,
  REVISION: 0x08,
  CLASS_PROG_IF: 0x09,
  HEADER_TYPE: 0x0e,
  BAR0: 0x10,
  SUBSYSTEM_VENDOR_ID: 0x2c,
  SUBSYSTEM_ID: 0x2e,
  CAPABILITIES_POINTER: 0x34,
  INTERRUPT_LINE: 0x3c,
  INTERRUPT_PIN: 0x3d,
} as const;

/**
 * A device's power-on PCI config space and, byte for byte, which bits the guest (and the
 * VMM restoring it) may write — how hardware implements config registers: read-only bits
 * keep their value, writable ones take the new value. The same rule gives BAR sizing:
 * writing all-ones to a BAR leaves exactly its writable address bits set.
 */
export interface ConfigSpaceImage {
  /** Contents at power-on: IDs, class, BAR flags, capabilities. */
  readonly bytes: Uint8Array;
  /** Bits that writes may change; as long as `bytes`. */
  readonly writeMask: Uint8Array;
}

/** Builds a {@link ConfigSpaceImage} with little-endian field writes. */
export class ConfigSpaceBuilder {
  readonly #bytes: Uint8Array;
  readonly #mask: Uint8Array;

  /** A space of `size` bytes (256, or 4096 for PCIe extended space), all zero and read-only. */
  constructor(size: 256 | 4096) {
    this.#bytes = new Uint8Array(size);
    this.#mask = new Uint8Array(size);
  }

  /** Sets the `width`-byte field at `offset` to `value` (little-endian). */
  set(offset: number, value: number, width: 1 | 2 | 4): this {
    put(this.#bytes, offset, value, width);
    return this;
  }

  /** Makes the bits of `mask` in the `width`-byte field at `offset` writable. */
  writable(offset: number, mask: number, width: 1 | 2 | 4): this {
    put(this.#mask, offset, mask, width);
    return this;
  }

  /** The image (copies: the builder can be reused). */
  build(): ConfigSpaceImage {
    return { bytes: this.#bytes.slice(), writeMask: this.#mask.slice() };
  }
}

function put(into: Uint8Array, offset: number, value: number, width: 1 | 2 | 4): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + width > into.byteLength) {
    throw new MdevError(
      "EINVAL",
      `config field at ${offset} of ${width} bytes is outside the ${into.byteLength}-byte space`,
    );
  }
  for (let i = 0; i < width; i++) into[offset + i] = (value >>> (8 * i)) & 0xff;
}

/**
 * Applies a config write at `offset` through `writeMask`, byte by byte: any width and
 * alignment is accepted, as the VMM may replay a saved space in whatever chunks it likes.
 */
export function applyConfigWrite(
  bytes: Uint8Array,
  writeMask: Uint8Array,
  offset: number,
  data: Uint8Array,
): void {
  for (let i = 0; i < data.byteLength; i++) {
    const at = offset + i;
    const mask = writeMask[at] as number;
    bytes[at] = ((bytes[at] as number) & ~mask) | ((data[i] as number) & mask);
  }
}
