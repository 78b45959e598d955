import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GuestMemory, PAGE_SIZE } from "../../src/memory/index.js";
import { nativePageRoutines } from "../../src/memory/native-page-routines.js";

const MiB = 2 ** 20;

/**
 * The sizes of this process's mappings that carry `madvise(MADV_HUGEPAGE)` (`hg` in
 * `/proc/self/smaps`' VmFlags): what the kernel was told, whatever memory it had to give.
 */
function hugePageAdvisedMappings(): number[] {
  const sizes: number[] = [];
  let size = 0;
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    const [, from, to] = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line) ?? [];
    if (from !== undefined && to !== undefined)
      size = Number.parseInt(to, 16) - Number.parseInt(from, 16);
    else if (line.startsWith("VmFlags:") && line.split(" ").includes("hg")) sizes.push(size);
  }
  return sizes;
}

/** Bytes of this process's mappings advised to huge pages. */
function hugePageAdvisedBytes(): number {
  return hugePageAdvisedMappings().reduce((sum, s) => sum + s, 0);
}

describe.skipIf(nativePageRoutines?.adviseHugePages === undefined)(
  "guest RAM on transparent huge pages",
  () => {
    it("each segment is advised to huge pages before its first touch", () => {
      // Both segments (64 and 36 MiB) are large enough to be mappings of their own. The
      // advice covers each but for the page each end may lose; the advised bytes are counted
      // in total, since the kernel merges adjacent mappings with the same flags (looking for
      // each segment's mapping by its size failed once in a fresh-clone CI run).
      const before = hugePageAdvisedBytes();
      const size = 100 * MiB + 12 * PAGE_SIZE;
      const mem = GuestMemory.create({ size, segmentSize: 64 * MiB });
      expect(mem.hugePages).toBe(true);
      expect(hugePageAdvisedBytes() - before).toBeGreaterThanOrEqual(size - 4 * PAGE_SIZE);
      mem.writePage(5, new Uint8Array(PAGE_SIZE).fill(3));
      expect(mem.readPage(5)[0]).toBe(3);
    });

    it("segments under 32 MiB, which malloc may place in its heap, are left on 4 KiB pages", () => {
      const before = hugePageAdvisedMappings().length;
      expect(GuestMemory.create({ size: 16 * MiB }).hugePages).toBe(false);
      expect(GuestMemory.create({ size: 64 * MiB, segmentSize: 16 * MiB }).hugePages).toBe(false);
      expect(GuestMemory.create({ size: 64 * MiB + MiB }).hugePages).toBe(true);
      expect(hugePageAdvisedMappings().length).toBeLessThanOrEqual(before + 1);
    });

    it("adviseHugePages refuses what is not a byte view, and a view without a whole page", () => {
      const advise = nativePageRoutines?.adviseHugePages as (m: Uint8Array) => boolean;
      expect(() => advise(new Uint32Array(4096) as never)).toThrow(TypeError);
      expect(() => (advise as (...a: unknown[]) => boolean)()).toThrow(TypeError);
      expect(advise(new Uint8Array(100))).toBe(false);
    });
  },
);

describe("a worker's view of guest RAM", () => {
  it("reports no advice of its own: the mapping is the creator's", () => {
    const mem = GuestMemory.create({ size: 4 * MiB });
    expect(GuestMemory.fromLayout(mem.layout).hugePages).toBe(false);
  });
});
