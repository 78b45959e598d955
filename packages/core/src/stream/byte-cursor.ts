import { StreamError } from "../errors/stream-error.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Bounds-checked little-endian reader over one record payload. Every read checks the
 * remaining length first and fails with a {@link StreamError} naming the record, the field's
 * stream offset and the rule, so payload decoders never index past what arrived.
 */
export class ByteCursor {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #record: string;
  readonly #base: number;
  #pos = 0;

  /**
   * @param bytes the payload.
   * @param record record type name, for errors.
   * @param base stream offset of `bytes[0]`, for errors.
   */
  constructor(bytes: Uint8Array, record: string, base: number) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#record = record;
    this.#base = base;
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.#bytes.byteLength - this.#pos;
  }

  /** Stream offset of the next byte. */
  get offset(): number {
    return this.#base + this.#pos;
  }

  /** A {@link StreamError} at the current position. */
  error(code: "EBADMSG" | "EPROTO" | "E2BIG", rule: string, detail: string): StreamError {
    return new StreamError(code, this.#record, this.offset, rule, detail);
  }

  #need(n: number, field: string): void {
    if (n > this.remaining) {
      throw this.error("EBADMSG", "length", `${field} needs ${n} bytes, ${this.remaining} left`);
    }
  }

  /** Reads a u8. */
  u8(field: string): number {
    this.#need(1, field);
    return this.#view.getUint8(this.#pos++);
  }

  /** Reads a u16. */
  u16(field: string): number {
    this.#need(2, field);
    const v = this.#view.getUint16(this.#pos, true);
    this.#pos += 2;
    return v;
  }

  /** Reads a u32. */
  u32(field: string): number {
    this.#need(4, field);
    const v = this.#view.getUint32(this.#pos, true);
    this.#pos += 4;
    return v;
  }

  /** Reads a u64 that must fit a JS safe integer (2^53 − 1): counts and page numbers do. */
  u64(field: string): number {
    this.#need(8, field);
    const lo = this.#view.getUint32(this.#pos, true);
    const hi = this.#view.getUint32(this.#pos + 4, true);
    if (hi > 0x1f_ffff) throw this.error("E2BIG", "u64-range", `${field} exceeds 2^53`);
    this.#pos += 8;
    return hi * 0x1_0000_0000 + lo;
  }

  /** Returns a view of the next `n` bytes (no copy), after checking they are there and `n ≤ max`. */
  bytes(n: number, field: string, max = Number.POSITIVE_INFINITY): Uint8Array {
    if (n > max)
      throw this.error("E2BIG", `${field}-limit`, `${field} of ${n} bytes exceeds ${max}`);
    this.#need(n, field);
    const v = this.#bytes.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return v;
  }

  /** Reads a u8-length-prefixed UTF-8 string of at most `max` bytes. */
  string8(field: string, max: number): string {
    return this.#utf8(this.bytes(this.u8(`${field} length`), field, max), field);
  }

  /** Reads a u16-length-prefixed UTF-8 string of at most `max` bytes. */
  string16(field: string, max: number): string {
    return this.#utf8(this.bytes(this.u16(`${field} length`), field, max), field);
  }

  #utf8(b: Uint8Array, field: string): string {
    try {
      return utf8.decode(b);
    } catch {
      throw this.error("EBADMSG", "utf8", `${field} is not valid UTF-8`);
    }
  }

  /** Fails unless every byte was consumed: trailing bytes mean the lengths do not add up. */
  end(): void {
    if (this.remaining !== 0) {
      throw this.error(
        "EBADMSG",
        "trailing-bytes",
        `${this.remaining} unexpected bytes after the last field`,
      );
    }
  }
}
