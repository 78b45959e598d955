// The fuzzers' allocation bound means something only if the probe sees allocations made
// the ways mdevkit makes them.
import { describe, expect, it } from "vitest";
import { measureAllocationsSync } from "../helpers/allocation-probe.js";

describe("allocation probe", () => {
  it("sees typed arrays, array buffers, shared buffers and Buffer factories", () => {
    const sizes: [string, () => unknown, number][] = [
      ["Uint8Array", () => new Uint8Array(3 << 20), 3 << 20],
      ["Uint32Array", () => new Uint32Array(1 << 20), 4 << 20],
      ["ArrayBuffer", () => new ArrayBuffer(5 << 20), 5 << 20],
      ["SharedArrayBuffer", () => new SharedArrayBuffer(6 << 20), 6 << 20],
      ["Buffer.alloc", () => Buffer.alloc(7 << 20), 7 << 20],
      ["Buffer.allocUnsafe", () => Buffer.allocUnsafe(2 << 20), 2 << 20],
      ["Buffer.concat", () => Buffer.concat([Buffer.alloc(10), Buffer.alloc(1 << 20)]), 1 << 20],
    ];
    for (const [name, alloc, bytes] of sizes) {
      expect(measureAllocationsSync(alloc).largest, name).toBeGreaterThanOrEqual(bytes);
    }
  });

  it("leaves instanceof and views working", () => {
    const { result } = measureAllocationsSync(() => new Uint8Array(new ArrayBuffer(8), 2, 4));
    expect(result).toBeInstanceOf(Uint8Array);
    expect(result.byteLength).toBe(4);
    expect(Buffer.alloc(4)).toBeInstanceOf(Uint8Array);
  });
});
