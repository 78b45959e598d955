import { describe, expect, it } from "vitest";
import { DirtyBitmap, DirtyOracle, PAGE_SIZE } from "../../src/memory/index.js";

describe("DirtyOracle", () => {
  it("records written guest pages and names the ones a method lost", () => {
    const oracle = new DirtyOracle(64);
    oracle.onDmaWrite(0xdead000, 5 * PAGE_SIZE + 10, PAGE_SIZE); // pages 5 and 6
    oracle.onDmaWrite(0, 40 * PAGE_SIZE, 0); // empty write: nothing
    expect(oracle.truth.toPageList()).toEqual([5, 6]);
    const reported = new DirtyBitmap(64);
    reported.set(5);
    reported.set(9);
    expect(oracle.missing(reported)).toEqual([6]);
    expect(() => oracle.assertCovered(reported, "vendor bitmap")).toThrow(
      /EIO: vendor bitmap lost 1 dirty page\(s\), first: 6/,
    );
    reported.set(6);
    oracle.assertCovered(reported, "vendor bitmap");
    expect(() => oracle.missing(new DirtyBitmap(65))).toThrow(/EINVAL/);
    oracle.reset();
    expect(oracle.truth.isEmpty()).toBe(true);
  });
});
