import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isMdevError } from "../../src/errors/index.js";
import { bitmapBytes, DirtyBitmap } from "../../src/memory/index.js";
import { FC_RUNS } from "./fc-runs.js";

describe("DirtyBitmap layout", () => {
  it("puts page n in u64 word n/64, bit n%64, visible through BigUint64Array", () => {
    const b = new DirtyBitmap(200);
    for (const p of [0, 31, 32, 63, 64, 130, 199]) b.set(p);
    const u64 = b.asBigUint64Array();
    expect(u64.length).toBe(4);
    expect(u64[0]).toBe((1n << 0n) | (1n << 31n) | (1n << 32n) | (1n << 63n));
    expect(u64[1]).toBe(1n << 0n);
    expect(u64[2]).toBe(1n << 2n);
    expect(u64[3]).toBe(1n << 7n);
  });

  it("sees bits set through the BigUint64Array view", () => {
    const b = new DirtyBitmap(128);
    const u64 = b.asBigUint64Array();
    u64[1] = (1n << 63n) | 1n;
    expect(b.toPageList()).toEqual([64, 127]);
  });

  it("sizes its memory in whole u64 words", () => {
    expect(bitmapBytes(0)).toBe(0);
    expect(bitmapBytes(1)).toBe(8);
    expect(bitmapBytes(64)).toBe(8);
    expect(bitmapBytes(65)).toBe(16);
    expect(new DirtyBitmap(65).buffer.byteLength).toBe(16);
    expect(new DirtyBitmap(10, { shared: true }).buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it("round-trips through little-endian u64 bytes", () => {
    const b = new DirtyBitmap(100);
    b.setRange(3, 70);
    const bytes = b.toBytes();
    expect(bytes.length).toBe(16);
    expect(bytes[0]).toBe(0b11111000);
    expect(DirtyBitmap.fromBytes(bytes, 100).equals(b)).toBe(true);
  });

  it("refuses bytes of the wrong size or with bits beyond its pages", () => {
    expect(() => DirtyBitmap.fromBytes(new Uint8Array(8), 100)).toThrow(/EINVAL/);
    const bytes = new Uint8Array(16);
    bytes[12] = 0x10; // bit 100
    expect(() => DirtyBitmap.fromBytes(bytes, 100)).toThrow(/beyond its 100 pages/);
    bytes[12] = 0x08; // bit 99: the last valid page
    expect(DirtyBitmap.fromBytes(bytes, 100).toPageList()).toEqual([99]);
  });

  it("bounds every page index", () => {
    const b = new DirtyBitmap(10);
    for (const bad of [-1, 10, 1.5, Number.NaN]) {
      expect(() => b.set(bad)).toThrow(/EINVAL/);
      expect(() => b.test(bad)).toThrow(/EINVAL/);
    }
    expect(() => b.setRange(5, 6)).toThrow(/EINVAL/);
    expect(() => b.clearRange(-1, 2)).toThrow(/EINVAL/);
    expect(() => new DirtyBitmap(-1)).toThrow(/EINVAL/);
    expect(() => new DirtyBitmap(2 ** 31 + 1)).toThrow(/EINVAL/);
    expect(() => b.union(new DirtyBitmap(11))).toThrow(/cannot be combined/);
    expect(() => new DirtyBitmap(10, { buffer: new ArrayBuffer(16) })).toThrow(/does not fit/);
  });
});

describe("DirtyBitmap operations", () => {
  it("sets, tests, clears ranges and counts", () => {
    const b = new DirtyBitmap(300);
    b.setRange(10, 100);
    expect(b.count()).toBe(100);
    expect(b.test(9)).toBe(false);
    expect(b.test(10)).toBe(true);
    expect(b.test(109)).toBe(true);
    expect(b.test(110)).toBe(false);
    b.clearRange(20, 10);
    expect(b.count()).toBe(90);
    expect(b.runs()).toEqual([
      { start: 10, count: 10 },
      { start: 30, count: 80 },
    ]);
    b.setAll();
    expect(b.count()).toBe(300);
    expect(b.runs()).toEqual([{ start: 0, count: 300 }]);
    b.clear();
    expect(b.isEmpty()).toBe(true);
  });

  it("unions and compares", () => {
    const a = new DirtyBitmap(70);
    const b = new DirtyBitmap(70);
    a.set(1);
    b.set(69);
    expect(a.isSubsetOf(b)).toBe(false);
    a.union(b);
    expect(a.toPageList()).toEqual([1, 69]);
    expect(b.isSubsetOf(a)).toBe(true);
    expect(a.equals(b)).toBe(false);
  });

  it("intersects: keeps the pages set in both", () => {
    const a = new DirtyBitmap(70);
    const b = new DirtyBitmap(70);
    a.setRange(0, 40);
    b.setRange(30, 40);
    expect(a.intersect(b).toPageList()).toEqual(Array.from({ length: 10 }, (_, i) => 30 + i));
    expect(b.count()).toBe(40);
    expect(() => a.intersect(new DirtyBitmap(71))).toThrow(/cannot be combined/);
  });

  it("iterates runs inside a window", () => {
    const b = new DirtyBitmap(200);
    b.setRange(0, 200);
    expect(b.runs(5, 70)).toEqual([{ start: 5, count: 65 }]);
    b.clearRange(64, 1);
    expect(b.runs(60, 70)).toEqual([
      { start: 60, count: 4 },
      { start: 65, count: 5 },
    ]);
    expect(b.runs(64, 65)).toEqual([]);
  });

  it("read-and-clear moves bits and returns the count", () => {
    const log = new DirtyBitmap(100, { shared: true });
    log.atomicSet(5);
    log.atomicSet(99);
    const into = new DirtyBitmap(100);
    into.set(7);
    expect(log.readAndClear(into)).toBe(2);
    expect(log.isEmpty()).toBe(true);
    expect(into.toPageList()).toEqual([5, 7, 99]);
  });

  it("matches a Set model for random operations", () => {
    const pages = 1000;
    const op = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), page: fc.nat(pages - 1) }),
      fc.record({
        kind: fc.constant("setRange" as const),
        page: fc.nat(pages - 1),
        count: fc.nat(130),
      }),
      fc.record({
        kind: fc.constant("clearRange" as const),
        page: fc.nat(pages - 1),
        count: fc.nat(130),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), fc.nat(pages), fc.nat(pages), (ops, x, y) => {
        const b = new DirtyBitmap(pages);
        const model = new Set<number>();
        for (const o of ops) {
          if (o.kind === "set") {
            b.set(o.page);
            model.add(o.page);
            continue;
          }
          const count = Math.min(o.count, pages - o.page);
          if (o.kind === "setRange") b.setRange(o.page, count);
          else b.clearRange(o.page, count);
          for (let p = o.page; p < o.page + count; p++) {
            if (o.kind === "setRange") model.add(p);
            else model.delete(p);
          }
        }
        const sorted = [...model].sort((m, n) => m - n);
        expect(b.toPageList()).toEqual(sorted);
        expect(b.count()).toBe(model.size);
        const [from, to] = x <= y ? [x, y] : [y, x];
        const inWindow = b
          .runs(from, to)
          .flatMap((r) => Array.from({ length: r.count }, (_, i) => r.start + i));
        expect(inWindow).toEqual(sorted.filter((p) => p >= from && p < to));
        // Runs are maximal: never adjacent.
        const runs = b.runs();
        for (let i = 1; i < runs.length; i++)
          expect(runs[i]!.start).toBeGreaterThan(runs[i - 1]!.start + runs[i - 1]!.count);
        expect(DirtyBitmap.fromBytes(b.toBytes(), pages).equals(b)).toBe(true);
      }),
      { numRuns: FC_RUNS },
    );
  });

  // Its speed is the benchmark's ("Dirty-log sync vs guest RAM" in `npm run bench`), not a
  // timed test's: a loaded machine would fail a time bound with no bug.
  it("walks the runs of a sparse 16M-page (64 GiB) bitmap", () => {
    const b = new DirtyBitmap(16 * 2 ** 20);
    for (let p = 0; p < b.pages; p += 4099) b.set(p);
    b.set(b.pages - 1);
    let pages = 0;
    let next = 0;
    b.forEachRun((start, count) => {
      expect(count).toBe(1);
      expect(start).toBe(next);
      next = Math.min(start + 4099, b.pages - 1);
      pages += count;
    });
    expect(pages).toBe(b.count());
  });

  it("raises typed errors", () => {
    try {
      new DirtyBitmap(4).set(4);
      expect.unreachable();
    } catch (err) {
      expect(isMdevError(err, "EINVAL")).toBe(true);
    }
  });
});
