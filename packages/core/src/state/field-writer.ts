import { MdevError } from "../errors/mdev-error.js";

const utf8 = new TextEncoder();

/**
 * Appends typed little-endian fields to a growing buffer: what a plugin writes inside one
 * section. Values are range-checked (EINVAL) so a writer cannot emit what no reader could read.
 */
export class FieldWriter {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #len = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.#len;
  }

  /** The written bytes (a view; valid until the next write). */
  bytesWritten(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }

  #room(n: number): number {
    if (this.#len + n > this.#buf.byteLength) {
      const next = new Uint8Array(Math.max(this.#buf.byteLength * 2, this.#len + n));
      next.set(this.#buf.subarray(0, this.#len));
      this.#buf = next;
      this.#view = new DataView(next.buffer);
    }
    const at = this.#len;
    this.#len += n;
    return at;
  }

  #int(v: number, max: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > max)
      throw new MdevError("EINVAL", `${what}: ${v} out of range 0..${max}`);
  }

  /** Appends a u8. */
  u8(v: number): this {
    this.#int(v, 0xff, "u8");
    // #room may replace #view, so take the offset before reading the field.
    const at = this.#room(1);
    this.#view.setUint8(at, v);
    return this;
  }

  /** Appends a u16. */
  u16(v: number): this {
    this.#int(v, 0xffff, "u16");
    // #room may replace #view, so take the offset before reading the field.
    const at = this.#room(2);
    this.#view.setUint16(at, v, true);
    return this;
  }

  /** Appends a u32. */
  u32(v: number): this {
    this.#int(v, 0xffff_ffff, "u32");
    // #room may replace #view, so take the offset before reading the field.
    const at = this.#room(4);
    this.#view.setUint32(at, v, true);
    return this;
  }

  /** Appends a u64 (bigint, or a safe-integer number). */
  u64(v: bigint | number): this {
    const b = typeof v === "bigint" ? v : BigInt(v);
    if (
      b < 0n ||
      b > 0xffff_ffff_ffff_ffffn ||
      (typeof v === "number" && !Number.isSafeInteger(v))
    ) {
      throw new MdevError("EINVAL", `u64: ${v} out of range`);
    }
    // #room may replace #view, so take the offset before reading the field.
    const at = this.#room(8);
    this.#view.setBigUint64(at, b, true);
    return this;
  }

  /** Appends raw bytes with a u32 length prefix. */
  bytes(b: Uint8Array): this {
    this.u32(b.byteLength);
    return this.raw(b);
  }

  /** Appends raw bytes without a prefix (fixed-size fields the reader knows the size of). */
  raw(b: Uint8Array): this {
    // #room may reallocate #buf, so take the offset before touching the buffer.
    const at = this.#room(b.byteLength);
    this.#buf.set(b, at);
    return this;
  }

  /** Appends a UTF-8 string with a u16 length prefix. */
  string(s: string): this {
    const b = utf8.encode(s);
    this.u16(b.byteLength);
    return this.raw(b);
  }
}
