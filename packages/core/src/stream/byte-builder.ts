const utf8 = new TextEncoder();

/** Builders up to this size share slabs (see {@link ByteBuilder}); bigger ones get their own memory. */
const SLAB_MAX = 4096;
const SLAB_SIZE = 64 * 1024;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabView = new DataView(slab);
let slabUsed = 0;

/**
 * Little-endian writer into a payload of known size. Small records are built whole into one
 * buffer so they cost one write; bulk data (pages, device bytes) never goes through here.
 *
 * Small builders take zeroed bytes from a shared 64 KiB slab, never handed out twice, as
 * Node's Buffer pool does: a small Uint8Array of its own lives on V8's heap, and the first
 * look at its `.buffer` (a DataView needs one) moves it off-heap at about 1.3 µs — more
 * than the rest of framing a one-page RAM record. `bytes` may therefore start at any
 * offset of its buffer.
 */
export class ByteBuilder {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  /** Offset of `bytes` in the buffer `#view` covers. */
  readonly #base: number;
  #pos: number;

  /** @param size total bytes; @param start first byte to write (room left for a frame header). */
  constructor(size: number, start = 0) {
    if (size <= SLAB_MAX) {
      if (slabUsed + size > SLAB_SIZE) {
        slab = new ArrayBuffer(SLAB_SIZE);
        slabView = new DataView(slab);
        slabUsed = 0;
      }
      this.bytes = new Uint8Array(slab, slabUsed, size);
      this.#view = slabView;
      this.#base = slabUsed;
      // Keeps every builder 8-byte aligned, as a buffer of its own would be.
      slabUsed += (size + 7) & ~7;
    } else {
      this.bytes = new Uint8Array(size);
      this.#view = new DataView(this.bytes.buffer);
      this.#base = 0;
    }
    this.#pos = start;
  }

  /** Bytes written so far (including `start`). */
  get position(): number {
    return this.#pos;
  }

  /** Appends a u8. */
  u8(v: number): this {
    this.#view.setUint8(this.#base + this.#pos, v);
    this.#pos += 1;
    return this;
  }

  /** Appends a u16. */
  u16(v: number): this {
    this.#view.setUint16(this.#base + this.#pos, v, true);
    this.#pos += 2;
    return this;
  }

  /** Appends a u32. */
  u32(v: number): this {
    this.#view.setUint32(this.#base + this.#pos, v, true);
    this.#pos += 4;
    return this;
  }

  /** Appends a u64 from a safe integer. */
  u64(v: number): this {
    this.#view.setUint32(this.#base + this.#pos, v % 0x1_0000_0000, true);
    this.#view.setUint32(this.#base + this.#pos + 4, Math.floor(v / 0x1_0000_0000), true);
    this.#pos += 8;
    return this;
  }

  /** Writes a u32 at byte `at` without moving the position (a CRC over what came before). */
  u32At(at: number, v: number): this {
    this.#view.setUint32(this.#base + at, v, true);
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
