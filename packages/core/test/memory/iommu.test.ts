import { describe, expect, it } from "vitest";
import { isMdevError } from "../../src/errors/index.js";
import {
  DirtyBitmap,
  Iommu,
  IommuPagePinner,
  PAGE_SIZE,
  PIN_PAGES_MAX_ENTRIES,
} from "../../src/memory/index.js";

const P = PAGE_SIZE;
const GUEST = 256 * P;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isMdevError(err) ? err.code : "not an MdevError";
  }
  return undefined;
}

function withMappings(): Iommu {
  const iommu = new Iommu({ guestSize: GUEST });
  iommu.map({ iova: 0x100000, gpa: 0, length: 16 * P });
  iommu.map({ iova: 0x200000, gpa: 64 * P, length: 8 * P, write: false });
  return iommu;
}

describe("Iommu map/unmap", () => {
  it("maps and translates", () => {
    const iommu = withMappings();
    expect(iommu.find(0x100000 + 5 * P + 7)).toMatchObject({ iova: 0x100000, gpa: 0, write: true });
    expect(iommu.find(0x200000)).toMatchObject({ read: true, write: false });
    expect(iommu.find(0x100000 + 16 * P)).toBeUndefined();
    expect(iommu.mappings.map((m) => m.iova)).toEqual([0x100000, 0x200000]);
  });

  it("refuses overlapping maps with EEXIST", () => {
    const iommu = withMappings();
    expect(codeOf(() => iommu.map({ iova: 0x100000 + 15 * P, gpa: 0, length: 2 * P }))).toBe(
      "EEXIST",
    );
    expect(codeOf(() => iommu.map({ iova: 0x100000 - P, gpa: 0, length: 2 * P }))).toBe("EEXIST");
    expect(codeOf(() => iommu.map({ iova: 0xf0000, gpa: 0, length: 0x20000 }))).toBe("EEXIST");
    // Adjacent is fine.
    iommu.map({ iova: 0x100000 + 16 * P, gpa: 0, length: P });
  });

  it("bounds map requests", () => {
    const iommu = new Iommu({ guestSize: GUEST, maxMappings: 2 });
    expect(codeOf(() => iommu.map({ iova: 1, gpa: 0, length: P }))).toBe("EINVAL");
    expect(codeOf(() => iommu.map({ iova: 0, gpa: 100, length: P }))).toBe("EINVAL");
    expect(codeOf(() => iommu.map({ iova: 0, gpa: 0, length: 0 }))).toBe("EINVAL");
    expect(codeOf(() => iommu.map({ iova: 0, gpa: 0, length: P + 1 }))).toBe("EINVAL");
    expect(codeOf(() => iommu.map({ iova: 0, gpa: 0, length: P, read: false, write: false }))).toBe(
      "EINVAL",
    );
    expect(codeOf(() => iommu.map({ iova: 0, gpa: GUEST - P, length: 2 * P }))).toBe("EINVAL");
    expect(codeOf(() => iommu.map({ iova: 2 ** 52 + 2 ** 51, gpa: 0, length: 2 ** 51 }))).toBe(
      "EOVERFLOW",
    );
    iommu.map({ iova: 0, gpa: 0, length: P });
    iommu.map({ iova: P, gpa: 0, length: P });
    expect(codeOf(() => iommu.map({ iova: 2 * P, gpa: 0, length: P }))).toBe("ENOSPC");
  });

  it("unmaps whole mappings only", () => {
    const iommu = withMappings();
    expect(codeOf(() => iommu.unmap(0x100000, 8 * P))).toBe("EINVAL"); // would split
    expect(codeOf(() => iommu.unmap(0x300000, P))).toBe("ENOENT");
    expect(codeOf(() => iommu.unmap(0x100001, P))).toBe("EINVAL");
    expect(iommu.unmap(0, 0x400000).map((m) => m.iova)).toEqual([0x100000, 0x200000]);
    expect(iommu.mappings).toEqual([]);
    expect(codeOf(() => iommu.unmap(0x100000, 16 * P))).toBe("ENOENT");
  });

  it("refuses to unmap pinned pages with EBUSY naming the range", () => {
    const iommu = withMappings();
    iommu.pin(0x100000 + 3 * P, 1);
    expect(() => iommu.unmap(0x100000, 16 * P)).toThrow(
      /EBUSY.*0x100000.*0x103000 is still pinned/,
    );
    iommu.unpin(0x100000 + 3 * P, 1);
    iommu.unmap(0x100000, 16 * P);
  });
});

describe("Iommu pin/unpin", () => {
  it("counts references per page", () => {
    const iommu = withMappings();
    iommu.pin(0x100000, 4);
    iommu.pin(0x100000 + P, 1);
    expect(iommu.pinCount(0x100000 + P)).toBe(2);
    expect(iommu.pinnedPages).toBe(4);
    iommu.unpin(0x100000, 4);
    expect(iommu.pinCount(0x100000 + P)).toBe(1);
    expect(iommu.pinnedPages).toBe(1);
    iommu.unpin(0x100000 + P, 1);
    expect(iommu.pinnedPages).toBe(0);
  });

  it("pins read-only mappings too, but nothing unmapped", () => {
    const iommu = withMappings();
    iommu.pin(0x200000, 8);
    expect(codeOf(() => iommu.pin(0x100000 + 15 * P, 2))).toBe("EINVAL");
    expect(iommu.pinCount(0x100000 + 15 * P)).toBe(0); // all or nothing
  });

  it("bounds pin arguments", () => {
    const iommu = withMappings();
    expect(codeOf(() => iommu.pin(0x100001, 1))).toBe("EINVAL");
    expect(codeOf(() => iommu.pin(0x100000, 0))).toBe("EINVAL");
    expect(codeOf(() => iommu.pin(0x100000, PIN_PAGES_MAX_ENTRIES + 1))).toBe("E2BIG");
    expect(codeOf(() => iommu.unpin(0x100000, 1))).toBe("EINVAL");
  });

  it("the PagePinner adapter tracks and releases its own pins", () => {
    const iommu = withMappings();
    const pinner = new IommuPagePinner(iommu, "00:02.0");
    expect(pinner.device.pinsPages).toBe(true);
    pinner.pin(0x100000, 2);
    pinner.pin(0x100000, 1);
    iommu.pin(0x100000 + 5 * P, 1); // someone else's pin
    expect(codeOf(() => pinner.unpin(0x100000 + 5 * P, 1))).toBe("EINVAL");
    expect(pinner.pinnedPages).toBe(2);
    pinner.release();
    expect(iommu.pinCount(0x100000)).toBe(0);
    expect(iommu.pinCount(0x100000 + 5 * P)).toBe(1);
  });
});

describe("Iommu type1 dirty tracking", () => {
  function bitsOf(bitmap: BigUint64Array): number[] {
    const out: number[] = [];
    bitmap.forEach((w, i) => {
      for (let b = 0; b < 64; b++) if ((w >> BigInt(b)) & 1n) out.push(i * 64 + b);
    });
    return out;
  }

  it("reports every pinned page on every GET", () => {
    const iommu = withMappings();
    iommu.dirtyStart();
    iommu.pin(0x100000 + 2 * P, 2);
    for (let round = 0; round < 3; round++) {
      const bm = new BigUint64Array(1);
      iommu.getDirtyBitmap(0x100000, 16 * P, P, bm);
      expect(bitsOf(bm)).toEqual([2, 3]);
    }
  });

  it("reports a page pinned and unpinned between GETs once", () => {
    const iommu = withMappings();
    iommu.dirtyStart();
    iommu.pin(0x100000 + 9 * P, 1);
    iommu.unpin(0x100000 + 9 * P, 1);
    const guest = new DirtyBitmap(GUEST / P);
    iommu.getDirtyGuestPages(guest);
    expect(guest.toPageList()).toEqual([9]);
    guest.clear();
    iommu.getDirtyGuestPages(guest);
    expect(guest.isEmpty()).toBe(true);
  });

  it("is not told about CPU writes and reports nothing without pins", () => {
    const iommu = withMappings();
    iommu.dirtyStart();
    const guest = new DirtyBitmap(GUEST / P);
    iommu.getDirtyGuestPages(guest);
    expect(guest.isEmpty()).toBe(true);
  });

  it("reports all mapped memory while a non-pinning device is attached", () => {
    const iommu = withMappings();
    new IommuPagePinner(iommu, "pinning");
    const plain = iommu.registerDevice("passthrough", { pinsPages: false });
    iommu.dirtyStart();
    expect(iommu.pinnedPageDirtyScope).toBe(false);
    const guest = new DirtyBitmap(GUEST / P);
    iommu.getDirtyGuestPages(guest);
    expect(guest.runs()).toEqual([
      { start: 0, count: 16 },
      { start: 64, count: 8 },
    ]);
    const bm = new BigUint64Array(5);
    iommu.getDirtyBitmap(0x100000, 0x200000 - 0x100000 + 8 * P, P, bm);
    expect(bitsOf(bm).length).toBe(24);
    plain.unregister();
    guest.clear();
    iommu.getDirtyGuestPages(guest);
    expect(guest.isEmpty()).toBe(true);
  });

  it("follows GET_BITMAP's rules", () => {
    const iommu = withMappings();
    const bm = new BigUint64Array(1);
    expect(codeOf(() => iommu.getDirtyBitmap(0x100000, 16 * P, P, bm))).toBe("EINVAL"); // not started
    iommu.dirtyStart();
    iommu.dirtyStart(); // idempotent
    expect(codeOf(() => iommu.getDirtyBitmap(0x100000, 16 * P, 2 * P, bm))).toBe("EINVAL");
    expect(codeOf(() => iommu.getDirtyBitmap(0x100000, 8 * P, P, bm))).toBe("EINVAL"); // cuts a mapping
    expect(codeOf(() => iommu.getDirtyBitmap(0x100000, 128 * P, P, bm))).toBe("EINVAL"); // bitmap too small
    expect(codeOf(() => iommu.getDirtyBitmap(0x100000 + 1, P, P, bm))).toBe("EINVAL");
    iommu.dirtyStop();
    iommu.dirtyStop();
    expect(iommu.dirtyTracking).toBe(false);
  });

  it("translates device IOVA bitmaps to guest pages", () => {
    const iommu = withMappings();
    const guest = new DirtyBitmap(GUEST / P);
    // Two 16 KiB report pages: the second one covers IOVA 0x104000..0x108000 → guest pages 4..7.
    iommu.iovaBitmapToGuest(0x100000, 0x8000, 4 * P, BigUint64Array.of(0b10n), guest);
    expect(guest.toPageList()).toEqual([4, 5, 6, 7]);
    guest.clear();
    // Bits over unmapped IOVAs are skipped.
    iommu.iovaBitmapToGuest(0x1ff000, 2 * P, P, BigUint64Array.of(0b11n), guest);
    expect(guest.toPageList()).toEqual([64]);
    expect(codeOf(() => iommu.iovaBitmapToGuest(0, P, 1000, BigUint64Array.of(1n), guest))).toBe(
      "EINVAL",
    );
    expect(codeOf(() => iommu.iovaBitmapToGuest(0, 65 * P, P, BigUint64Array.of(1n), guest))).toBe(
      "EINVAL",
    );
  });
});
