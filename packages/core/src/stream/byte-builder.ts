const utf8 = new TextEncoder();

/**
 * Little-endian writer into a payload of known size. Small records are built whole into one
 * buffer so they cost one write; bulk data (pages, device bytes) never goes through here.
 */
export class ByteBuilder {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  #pos: number;

  /** @param size total bytes; @param start first byte to write (room left for a frame header). */
  constructor(size: number, start = 0) {
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
    this.#pos = start;
  }

  /** Bytes written so far (including `start`). */
  get position(): number {
    return this.#pos;
  }

  /** Appends a u8. */
  u8(v: number): this {
    this.#view.setUint8(this.#pos, v);
    this.#pos += 1;
    return this;
  }

  /** Appends a u16. */
  u16(v: number): this {
    this.#view.setUint16(this.#pos, v, true);
    this.#pos += 2;
    return this;
  }

  /** Appends a u32. */
  u32(v: number): this {
    this.#view.setUint32(this.#pos, v, true);
    this.#pos += 4;
    return this;
  }

  /** Appends a u64 from a safe integer. */
  u64(v: number): this {
    this.#view.setUint32(this.#pos, v % 0x1_0000_0000, true);
    this.#view.setUint32(this.#pos + 4, Math.floor(v / 0x1_0000_0000), true);
    this.#pos += 8;
    return this;
  }

  /** Appends raw bytes. */
  raw(b: Uint8Array): this {
    this.bytes.set(b, this.#pos);
    this.#pos += b.byteLength;
    return this;
  }
}

/** UTF-8 bytes of a string. */
export function utf8Bytes(s: string): Uint8Array {
  return utf8.encode(s);
}
