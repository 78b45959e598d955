import { StateError } from "./state-error.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads typed little-endian fields from one section payload. Every read is bounds-checked
 * and fails with a {@link StateError} naming the section, the field's offset and the rule.
 */
export class FieldReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #tag: string;
  readonly #base: number;
  #pos = 0;

  /** @param base offset of `bytes[0]` in the state stream, for errors. */
  constructor(bytes: Uint8Array, tag: string, base: number) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#tag = tag;
    this.#base = base;
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.#bytes.byteLength - this.#pos;
  }

  #need(n: number, what: string): number {
    if (n > this.remaining) {
      throw new StateError(
        "EBADMSG",
        this.#tag,
        this.#base + this.#pos,
        "field-bounds",
        `${what} needs ${n} bytes, ${this.remaining} left`,
      );
    }
    const at = this.#pos;
    this.#pos += n;
    return at;
  }

  /** Reads a u8. */
  u8(): number {
    return this.#view.getUint8(this.#need(1, "u8"));
  }

  /** Reads a u16. */
  u16(): number {
    return this.#view.getUint16(this.#need(2, "u16"), true);
  }

  /** Reads a u32. */
  u32(): number {
    return this.#view.getUint32(this.#need(4, "u32"), true);
  }

  /** Reads a u64 as a bigint. */
  u64(): bigint {
    return this.#view.getBigUint64(this.#need(8, "u64"), true);
  }

  /** Reads u32-prefixed bytes of at most `max` bytes (a view; copy to keep). */
  bytes(max = Number.POSITIVE_INFINITY): Uint8Array {
    const n = this.u32();
    if (n > max)
      throw new StateError(
        "E2BIG",
        this.#tag,
        this.#base + this.#pos - 4,
        "field-limit",
        `${n} bytes exceed ${max}`,
      );
    return this.raw(n);
  }

  /** Reads `n` raw bytes (a view). */
  raw(n: number): Uint8Array {
    const at = this.#need(n, `${n} bytes`);
    return this.#bytes.subarray(at, at + n);
  }

  /** Reads a u16-prefixed UTF-8 string of at most `max` bytes. */
  string(max = 0xffff): string {
    const n = this.u16();
    if (n > max)
      throw new StateError(
        "E2BIG",
        this.#tag,
        this.#base + this.#pos - 2,
        "field-limit",
        `string of ${n} bytes exceeds ${max}`,
      );
    const at = this.#pos;
    try {
      return utf8.decode(this.raw(n));
    } catch (err) {
      if (err instanceof StateError) throw err;
      throw new StateError(
        "EBADMSG",
        this.#tag,
        this.#base + at,
        "utf8",
        "string is not valid UTF-8",
      );
    }
  }

  /** Fails unless the whole section was read: a reader that leaves bytes misunderstood them. */
  end(): void {
    if (this.remaining !== 0) {
      throw new StateError(
        "EBADMSG",
        this.#tag,
        this.#base + this.#pos,
        "trailing-bytes",
        `${this.remaining} unread bytes`,
      );
    }
  }
}
