import { totalmem } from "node:os";
import { describe, expect, it } from "vitest";
import {
  DirtyBitmap,
  GuestMemory,
  PAGE_SIZE,
  parseGuestMemoryLayout,
} from "../../src/memory/index.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

function page(fill: number): Uint8Array {
  return new Uint8Array(PAGE_SIZE).fill(fill);
}

describe("GuestMemory allocation", () => {
  it("allocates 16 GiB lazily in 1 GiB segments", () => {
    const before = process.memoryUsage().rss;
    const mem = GuestMemory.create({ size: 16 * GiB });
    expect(mem.pages).toBe(4 * 2 ** 20);
    expect(mem.layout.segments).toHaveLength(16);
    mem.writePage(mem.pages - 1, page(7));
    mem.writePage(0, page(9));
    expect(mem.readPage(mem.pages - 1)[4095]).toBe(7);
    expect(mem.isZeroPage(12345)).toBe(true);
    // Only the touched pages (and the 512 KiB dirty log) are resident.
    expect(process.memoryUsage().rss - before).toBeLessThan(256 * MiB);
  });

  it.skipIf(totalmem() >= 32 * GiB)(
    "refuses 32 GiB on a host with less RAM (ENOMEM), unless overcommit is allowed",
    () => {
      expect(() => GuestMemory.create({ size: 32 * GiB })).toThrow(/ENOMEM.*exceeds this host/);
      const mem = GuestMemory.create({ size: 32 * GiB, allowOvercommit: true });
      expect(mem.pages).toBe(8 * 2 ** 20);
    },
  );

  it("validates size and segment size", () => {
    expect(() => GuestMemory.create({ size: 0 })).toThrow(/EINVAL/);
    expect(() => GuestMemory.create({ size: PAGE_SIZE + 1 })).toThrow(/multiple of 4096/);
    expect(() => GuestMemory.create({ size: 2 ** 41, allowOvercommit: true })).toThrow(/EINVAL/);
    expect(() => GuestMemory.create({ size: MiB, segmentSize: 3 * PAGE_SIZE })).toThrow(
      /power of two/,
    );
    expect(() => GuestMemory.create({ size: MiB, segmentSize: 2048 })).toThrow(/power of two/);
    expect(
      GuestMemory.create({ size: MiB + PAGE_SIZE, segmentSize: 256 * 1024 }).layout.segments.map(
        (s) => s.byteLength,
      ),
    ).toEqual([256 * 1024, 256 * 1024, 256 * 1024, 256 * 1024, PAGE_SIZE]);
  });
});

describe("GuestMemory access", () => {
  const small = () => GuestMemory.create({ size: 64 * PAGE_SIZE, segmentSize: 16 * PAGE_SIZE });

  it("reads and writes across segment boundaries", () => {
    const mem = small();
    const data = Uint8Array.from({ length: 3 * PAGE_SIZE }, (_, i) => i & 0xff);
    const gpa = 15 * PAGE_SIZE + 100; // crosses into segment 1 and on
    mem.write(gpa, data);
    expect(mem.read(gpa, data.length)).toEqual(data);
    expect(mem.read(gpa - 1, 1)[0]).toBe(0);
  });

  it("gives views inside one segment and refuses views that straddle", () => {
    const mem = small();
    const v = mem.view(16 * PAGE_SIZE, 16 * PAGE_SIZE);
    v[0] = 42;
    expect(mem.readPage(16)[0]).toBe(42);
    expect(mem.pageView(16)[0]).toBe(42);
    expect(() => mem.view(15 * PAGE_SIZE, 2 * PAGE_SIZE)).toThrow(/straddles/);
    expect(mem.view(mem.size, 0).length).toBe(0);
  });

  it("bounds every address", () => {
    const mem = small();
    expect(() => mem.read(mem.size - 1, 2)).toThrow(/EINVAL/);
    expect(() => mem.write(-1, new Uint8Array(1))).toThrow(/EINVAL/);
    expect(() => mem.readPage(64)).toThrow(/EINVAL/);
    expect(() => mem.writePage(0, new Uint8Array(10))).toThrow(/EINVAL/);
    expect(() => mem.readPage(0, new Uint8Array(10))).toThrow(/EINVAL/);
    expect(() => mem.markDirty(0, mem.size + 1)).toThrow(/EINVAL/);
  });

  it("marks CPU writes in the dirty log, and only CPU writes", () => {
    const mem = small();
    mem.write(PAGE_SIZE - 1, new Uint8Array(2)); // touches pages 0 and 1
    mem.writePage(40, page(1));
    mem.writeUntracked(50 * PAGE_SIZE, page(1)); // the DMA path
    const into = new DirtyBitmap(mem.pages);
    expect(mem.logReadAndClear(into)).toBe(3);
    expect(into.toPageList()).toEqual([0, 1, 40]);
    expect(mem.dirtyLog.isEmpty()).toBe(true);
    expect(mem.readPage(50)[0]).toBe(1);
    mem.logStart();
    expect(mem.dirtyLog.count()).toBe(64);
  });

  it("marks large writes word by word", () => {
    const mem = GuestMemory.create({ size: 256 * PAGE_SIZE });
    mem.markDirty(5 * PAGE_SIZE + 1, 100 * PAGE_SIZE);
    expect(mem.dirtyLog.runs()).toEqual([{ start: 5, count: 101 }]);
  });

  it("detects zero pages, including a single non-zero byte anywhere", () => {
    const mem = small();
    expect(mem.isZeroPage(3)).toBe(true);
    for (const at of [0, 1, 2047, 4093, 4095]) {
      const p = new Uint8Array(PAGE_SIZE);
      p[at] = 0x80;
      mem.writePage(3, p);
      expect(mem.isZeroPage(3)).toBe(false);
    }
    mem.writePage(3, new Uint8Array(PAGE_SIZE));
    expect(mem.isZeroPage(3)).toBe(true);
  });

  it("prefaults without changing contents or the log", () => {
    const mem = small();
    mem.writePage(2, page(5));
    mem.dirtyLog.clear();
    mem.prefault();
    expect(mem.readPage(2)[0]).toBe(5);
    expect(mem.isZeroPage(3)).toBe(true);
    expect(mem.dirtyLog.isEmpty()).toBe(true);
    expect(() => mem.prefault(60, 5)).toThrow(/EINVAL/);
  });
});

describe("GuestMemory layout", () => {
  it("rebuilds a guest over the same memory", () => {
    const mem = GuestMemory.create({ size: 32 * PAGE_SIZE, segmentSize: 8 * PAGE_SIZE });
    const twin = GuestMemory.fromLayout(mem.layout);
    twin.writePage(20, page(3));
    expect(mem.readPage(20)[0]).toBe(3);
    expect(mem.dirtyLog.test(20)).toBe(true);
  });

  it("follows the documented raw layout (what an eval'd worker relies on)", () => {
    const mem = GuestMemory.create({ size: 128 * PAGE_SIZE, segmentSize: 64 * PAGE_SIZE });
    const { segments, dirtyLog, segmentSize } = mem.layout;
    const gpa = 70 * PAGE_SIZE + 8;
    new Uint8Array(segments[Math.floor(gpa / segmentSize)]!)[gpa % segmentSize] = 99;
    Atomics.or(new Int32Array(dirtyLog), 70 >> 5, 1 << (70 & 31));
    expect(mem.read(gpa, 1)[0]).toBe(99);
    expect(mem.dirtyLog.toPageList()).toEqual([70]);
  });

  it("refuses inconsistent layouts", () => {
    const mem = GuestMemory.create({ size: 32 * PAGE_SIZE, segmentSize: 8 * PAGE_SIZE });
    const good = mem.layout;
    expect(() => parseGuestMemoryLayout({ ...good, segments: good.segments.slice(1) })).toThrow(
      /segments, 4 expected/,
    );
    expect(() => parseGuestMemoryLayout({ ...good, dirtyLog: new SharedArrayBuffer(16) })).toThrow(
      /dirty log/,
    );
    expect(() => parseGuestMemoryLayout({ ...good, populated: new SharedArrayBuffer(16) })).toThrow(
      /populated map/,
    );
    expect(() => parseGuestMemoryLayout({ ...good, pageSize: 8192 })).toThrow(/pageSize/);
    expect(() => parseGuestMemoryLayout({ ...good, segments: [new ArrayBuffer(8)] })).toThrow(
      /EINVAL/,
    );
    expect(() =>
      parseGuestMemoryLayout({
        ...good,
        segments: [...good.segments.slice(1), new SharedArrayBuffer(PAGE_SIZE)],
      }),
    ).toThrow(/segment 3/);
    expect(() => parseGuestMemoryLayout(null)).toThrow(/EINVAL/);
    expect(() => parseGuestMemoryLayout({ ...good, size: good.size + 1 })).toThrow(/size:/);
    expect(() => parseGuestMemoryLayout({ ...good, segmentSize: 3 * PAGE_SIZE })).toThrow(
      /segmentSize: must be a power of two/,
    );
    const { populated: _, ...noPopulated } = good;
    expect(() => parseGuestMemoryLayout(noPopulated)).toThrow(/populated: must be/);
    expect(() => parseGuestMemoryLayout({ ...good, segments: [] })).toThrow(/segments:/);
  });
});
