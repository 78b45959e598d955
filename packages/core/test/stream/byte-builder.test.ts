import { describe, expect, it } from "vitest";
import { ByteBuilder } from "../../src/stream/byte-builder.js";

/** Builds `size` bytes filled with `fill` through the builder's own writers. */
function filled(size: number, fill: number): ByteBuilder {
  const b = new ByteBuilder(size);
  for (let i = 0; i < size; i++) b.u8(fill);
  return b;
}

describe("ByteBuilder", () => {
  it("hands out zeroed bytes that no other builder shares", () => {
    // Enough small builders to run through several 64 KiB slabs.
    const builders: ByteBuilder[] = [];
    for (let i = 0; i < 3000; i++) {
      const size = 1 + (i % 97);
      const b = new ByteBuilder(size);
      expect(b.bytes.byteLength).toBe(size);
      expect(b.bytes.every((x) => x === 0)).toBe(true);
      for (let k = 0; k < size; k++) b.u8(i & 0xff);
      builders.push(b);
    }
    builders.forEach((b, i) => {
      expect(b.bytes.every((x) => x === (i & 0xff))).toBe(true);
    });
  });

  it("writes little-endian values where its bytes start, whatever their offset", () => {
    filled(5, 0xee); // moves the next builder off the slab's start
    const b = new ByteBuilder(20);
    b.u8(1)
      .u16(0x0302)
      .u32(0x07060504)
      .u64(2 ** 40 + 0x0b0a0908)
      .u8(0xff);
    b.u32At(16, 0xdeadbeef);
    expect(b.position).toBe(16);
    expect([...b.bytes]).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 1, 0, 0, 0xff, 0xef, 0xbe, 0xad, 0xde,
    ]);
  });

  it("gives large builders memory of their own", () => {
    const b = filled(64 * 1024, 0x5a);
    expect(b.bytes.byteOffset).toBe(0);
    expect(b.bytes.buffer.byteLength).toBe(64 * 1024);
    expect(filled(16, 1).bytes.every((x) => x === 1)).toBe(true);
    expect(b.bytes.every((x) => x === 0x5a)).toBe(true);
  });
});
