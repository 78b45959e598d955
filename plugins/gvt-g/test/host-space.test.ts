import { PIN_PAGES_MAX_ENTRIES } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import { HostSpace } from "../src/host-space.js";

/** A host space whose pin calls are recorded as [gfn, count]. */
function recording(): { host: HostSpace; pins: [number, number][]; unpins: number[] } {
  const pins: [number, number][] = [];
  const unpins: number[] = [];
  const host = new HostSpace(2 ** 20, 2 ** 20, {
    pin: (gfn, count) => pins.push([gfn, count]),
    unpin: (gfn) => unpins.push(gfn),
  });
  return { host, pins, unpins };
}

describe("HostSpace.mapMany", () => {
  it("pins only frames mapped for the first time, one call per run of adjacent frames", () => {
    const { host, pins } = recording();
    const already = host.map(3);
    pins.length = 0;
    const dma = host.mapMany([7, 5, 6, 3, 7, 100]);
    expect(pins).toEqual([
      [5, 3],
      [100, 1],
    ]);
    expect(dma[3]).toBe(already);
    expect(dma[4]).toBe(dma[0]);
    expect(new Set(dma).size).toBe(5);
    dma.forEach((d, k) => {
      expect(host.gfnOf(d)).toBe([7, 5, 6, 3, 7, 100][k]);
    });
  });

  it("counts a reference per entry, as map does", () => {
    const { host, unpins } = recording();
    host.mapMany([9, 9, 10]);
    expect(host.totalRefs).toBe(3);
    host.unmap(9);
    expect(unpins).toEqual([]);
    host.unmap(9);
    host.unmap(10);
    expect(unpins).toEqual([9, 10]);
    expect(host.totalRefs).toBe(0);
  });

  it("cuts a run at the most pages one pin call may take", () => {
    const { host, pins } = recording();
    const n = PIN_PAGES_MAX_ENTRIES * 2 + 1;
    host.mapMany(Array.from({ length: n }, (_, i) => 1000 + i));
    expect(pins).toEqual([
      [1000, PIN_PAGES_MAX_ENTRIES],
      [1000 + PIN_PAGES_MAX_ENTRIES, PIN_PAGES_MAX_ENTRIES],
      [1000 + 2 * PIN_PAGES_MAX_ENTRIES, 1],
    ]);
  });
});
