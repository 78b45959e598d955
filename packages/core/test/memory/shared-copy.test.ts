import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { copyBytes, copyBytesInJs } from "../../src/memory/shared-copy.js";
import { FC_RUNS } from "./fc-runs.js";

/** Bytes that differ at every offset, so a shifted or partial copy cannot pass. */
function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 131 + seed * 17 + (i >>> 8)) & 0xff;
  return out;
}

function region(shared: boolean, length: number): Uint8Array {
  return new Uint8Array(shared ? new SharedArrayBuffer(length) : new ArrayBuffer(length));
}

// copyBytes takes the native addon's memmove for long copies to or from shared memory;
// copyBytesInJs is what runs where the addon did not build. Both must copy exactly.
describe.each([
  ["copyBytes", copyBytes],
  ["copyBytesInJs", copyBytesInJs],
])("%s", (_, copyBytes) => {
  it("copies exactly, with the bytes around the destination untouched, for every pair of alignments, both directions and both kinds of memory", () => {
    // 200 KiB crosses the 64 KiB scratch buffer several times and ends mid-way through it.
    const length = 200 * 1024 + 5;
    for (const [srcShared, destShared] of [
      [false, true],
      [true, false],
      [true, true],
      [false, false],
    ] as const) {
      for (let srcSkew = 0; srcSkew < 8; srcSkew++) {
        for (let destSkew = 0; destSkew < 8; destSkew++) {
          const src = region(srcShared, length + 16);
          src.set(pattern(length + 16, srcSkew));
          const dest = region(destShared, length + 16);
          dest.fill(0xee);
          copyBytes(
            dest.subarray(destSkew, destSkew + length),
            src.subarray(srcSkew, srcSkew + length),
          );
          const expected = new Uint8Array(length + 16).fill(0xee);
          expected.set(src.subarray(srcSkew, srcSkew + length), destSkew);
          expect(Buffer.compare(Buffer.from(dest), Buffer.from(expected))).toBe(0);
        }
      }
    }
  });

  it("matches TypedArray.set for any length and offsets (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 70_000 }),
        fc.integer({ min: 0, max: 15 }),
        fc.integer({ min: 0, max: 15 }),
        fc.boolean(),
        (length, srcAt, destAt, intoShared) => {
          const src = region(!intoShared, srcAt + length);
          src.set(pattern(srcAt + length, length));
          const dest = region(intoShared, destAt + length);
          copyBytes(dest.subarray(destAt), src.subarray(srcAt));
          const want = new Uint8Array(destAt + length);
          want.set(src.subarray(srcAt), destAt);
          expect(Buffer.compare(Buffer.from(dest), Buffer.from(want))).toBe(0);
        },
      ),
      { numRuns: FC_RUNS },
    );
  });

  it("refuses views of different lengths instead of copying part", () => {
    expect(() => copyBytes(new Uint8Array(10), new Uint8Array(11))).toThrow(RangeError);
    const shared = new Uint8Array(new SharedArrayBuffer(4096));
    expect(() => copyBytes(shared, new Uint8Array(4097))).toThrow(RangeError);
  });
});
