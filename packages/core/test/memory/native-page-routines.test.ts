import { once } from "node:events";
import { readFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { crc32c } from "@node-rs/crc32";
import { describe, expect, it } from "vitest";
import {
  describePageRoutines,
  nativePageRoutines,
  nativeUnavailable,
} from "../../src/memory/native-page-routines.js";

const PAGE = 4096;
const off = process.env.MDEVKIT_NATIVE === "0";

/** CRC32C of each page, one call per page: the reference the addon must match. */
function perPage(pages: Uint8Array): number[] {
  const crcs: number[] = [];
  for (let at = 0; at < pages.byteLength; at += PAGE)
    crcs.push(crc32c(Buffer.from(pages.buffer, pages.byteOffset + at, PAGE)));
  return crcs;
}

/** `count` random pages in a buffer of the given kind, starting `skew` bytes in. */
function pagesIn(kind: "plain" | "shared", count: number, skew: number, seed: number): Uint8Array {
  const buffer =
    kind === "shared"
      ? new SharedArrayBuffer(count * PAGE + skew)
      : new ArrayBuffer(count * PAGE + skew);
  const pages = new Uint8Array(buffer, skew, count * PAGE);
  let x = seed | 1;
  for (let i = 0; i < pages.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    pages[i] = x & 0xff;
  }
  return pages;
}

describe("the native page routines", () => {
  it.skipIf(off)(
    "are built and loaded (a missing build would slow every migration silently)",
    () => {
      expect(nativeUnavailable).toBeUndefined();
      expect(nativePageRoutines?.crc32c).toBe(process.arch === "x64" ? "sse4.2" : null);
      expect(typeof nativePageRoutines?.markUnchangedPages).toBe("function");
      expect(typeof nativePageRoutines?.scatterCrc32cPages).toBe(
        process.arch === "x64" ? "function" : "undefined",
      );
      expect(typeof nativePageRoutines?.setReceiveLowWater).toBe(
        process.platform === "linux" ? "function" : "undefined",
      );
      for (const linuxOnly of ["adviseHugePages", "releasePages", "peerHungUp"] as const)
        expect(typeof nativePageRoutines?.[linuxOnly]).toBe(
          process.platform === "linux" ? "function" : "undefined",
        );
      expect(describePageRoutines()).toMatch(/^native/);
    },
  );

  it.skipIf(off)("turned off by MDEVKIT_NATIVE=0 they are not loaded", async () => {
    const { execFileSync } = await import("node:child_process");
    const out = execFileSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import("${new URL("../../dist/memory/native-page-routines.js", import.meta.url).href}").then((m) => console.log(String(m.nativePageRoutines), m.describePageRoutines()))`,
      ],
      { env: { ...process.env, MDEVKIT_NATIVE: "0" }, encoding: "utf8" },
    );
    expect(out.trim()).toBe(
      "undefined JavaScript (the native addon is turned off by MDEVKIT_NATIVE=0)",
    );
  });
});

// What the wrappers' tests cannot reach: the raw functions' own argument checks. Their
// results are tested through crc32cPages, gatherCrc32cPages (test/stream/page-crc.test.ts)
// and copyBytes (shared-copy.test.ts), native and JavaScript alike.
describe.skipIf(nativePageRoutines?.crc32cPages === undefined)("crc32cPages", () => {
  const crc32cPages = nativePageRoutines?.crc32cPages as NonNullable<
    NonNullable<typeof nativePageRoutines>["crc32cPages"]
  >;

  it("refuses a partial page, an out-of-range slot and the wrong array types", () => {
    const out = new Uint32Array(4);
    expect(() => crc32cPages(new Uint8Array(PAGE + 1), out, 0)).toThrow(RangeError);
    expect(() => crc32cPages(new Uint8Array(4 * PAGE), out, 1)).toThrow(RangeError);
    expect(() => crc32cPages(new Uint8Array(PAGE), out, 4)).toThrow(RangeError);
    expect(() => crc32cPages(new Uint8Array(PAGE), out, -1)).toThrow(RangeError);
    expect(() => crc32cPages(new Uint8Array(PAGE), new Int32Array(1) as never, 0)).toThrow(
      TypeError,
    );
    expect(() => crc32cPages(new Uint16Array(PAGE / 2) as never, out, 0)).toThrow(TypeError);
    expect(() => (crc32cPages as (...a: unknown[]) => void)(new Uint8Array(PAGE), out)).toThrow(
      TypeError,
    );
    expect([...out]).toEqual([0, 0, 0, 0]);
  });
});

describe.skipIf(nativePageRoutines === undefined)("copy", () => {
  const copy = nativePageRoutines?.copy as NonNullable<typeof nativePageRoutines>["copy"];

  it("copies overlapping views of one buffer as memmove does", () => {
    const bytes = Uint8Array.from({ length: 64 }, (_, i) => i);
    copy(bytes.subarray(8, 40), bytes.subarray(0, 32));
    expect([...bytes.subarray(8, 40)]).toEqual(Array.from({ length: 32 }, (_, i) => i));
  });

  it("refuses unequal lengths and non-byte arrays", () => {
    expect(() => copy(new Uint8Array(4), new Uint8Array(5))).toThrow(RangeError);
    expect(() => copy(new Uint32Array(4) as never, new Uint8Array(16))).toThrow(TypeError);
  });
});

describe.skipIf(nativePageRoutines?.gatherCrc32cPages === undefined)("gatherCrc32cPages", () => {
  const gather = nativePageRoutines?.gatherCrc32cPages as NonNullable<
    NonNullable<typeof nativePageRoutines>["gatherCrc32cPages"]
  >;

  it("returns the pages it copied", () => {
    const pages = pagesIn("plain", 9, 0, 5);
    const kinds = Uint8Array.of(0b1011_0110, 0b1);
    const out = new Uint32Array(6);
    expect(gather(pages, kinds, 9, new Uint8Array(6 * PAGE), out)).toBe(6);
    expect([...out]).toEqual([1, 2, 4, 5, 7, 8].map((p) => perPage(pages)[p]));
  });

  it("refuses a count beyond the pages or the bitmap, and too little room, before copying", () => {
    const pages = pagesIn("shared", 8, 0, 3);
    const all = Uint8Array.of(0xff);
    const dest = new Uint8Array(8 * PAGE);
    const out = new Uint32Array(8);
    expect(() => gather(pages, all, 9, dest, out)).toThrow(RangeError);
    expect(() => gather(pages, new Uint8Array(1), 9, dest, out)).toThrow(RangeError);
    expect(() => gather(pages, all, -1, dest, out)).toThrow(RangeError);
    expect(() => gather(pages, all, 8, dest.subarray(PAGE), out)).toThrow(RangeError);
    expect(() => gather(pages, all, 8, dest, out.subarray(1))).toThrow(RangeError);
    expect(() => gather(pages, all, 8, dest, new Int32Array(8) as never)).toThrow(TypeError);
    expect(dest.every((b) => b === 0)).toBe(true);
    expect(out.every((c) => c === 0)).toBe(true);
  });
});

describe.skipIf(nativePageRoutines?.scatterCrc32cPages === undefined)("scatterCrc32cPages", () => {
  const scatter = nativePageRoutines?.scatterCrc32cPages as NonNullable<
    NonNullable<typeof nativePageRoutines>["scatterCrc32cPages"]
  >;

  it("refuses a partial page, a bad `at`, a slot outside dest and the wrong types", () => {
    const data = pagesIn("plain", 2, 0, 3);
    const dest = new Uint8Array(4 * PAGE);
    const out = new Uint32Array(3);
    const slots = Int32Array.of(0, 3, 1);
    expect(() => scatter(data.subarray(1), slots, 0, dest, out)).toThrow(RangeError);
    expect(() => scatter(data, slots, 2, dest, out)).toThrow(RangeError);
    expect(() => scatter(data, slots, -1, dest, out)).toThrow(RangeError);
    expect(() => scatter(data, slots, 0, dest, out.subarray(2))).toThrow(RangeError);
    expect(() => scatter(data, Int32Array.of(1, 4), 0, dest, out)).toThrow(RangeError);
    expect(() => scatter(data, Int32Array.of(1, -1), 0, dest, out)).toThrow(RangeError);
    expect(() => scatter(data, new Uint32Array(2) as never, 0, dest, out)).toThrow(TypeError);
    expect(() => scatter(data, slots, 0, dest, new Int32Array(3) as never)).toThrow(TypeError);
    expect(dest.every((b) => b === 0)).toBe(true);
    expect(out.every((c) => c === 0)).toBe(true);
    scatter(data, slots, 1, dest, out);
    expect([...out]).toEqual([0, ...perPage(data)]);
    expect(Buffer.compare(dest.subarray(3 * PAGE), data.subarray(0, PAGE))).toBe(0);
    expect(Buffer.compare(dest.subarray(PAGE, 2 * PAGE), data.subarray(PAGE))).toBe(0);
  });

  // Guest RAM is aligned and takes streaming stores; any other dest takes plain copies.
  it.each([
    ["guest RAM (aligned)", 0],
    ["a dest 3 bytes in", 3],
  ])("puts every page of a chunk that starts mid-word in its slot, into %s", (_, destSkew) => {
    const data = pagesIn("plain", 11, 5, 7); // four, four and three: the grouped and the rest
    const slots = Int32Array.of(12, 0, 3, 4, 5, 13, 9, 1, 2, 8, 6);
    const dest = new Uint8Array(new SharedArrayBuffer(14 * PAGE + destSkew), destSkew);
    const out = new Uint32Array(11);
    scatter(data, slots, 0, dest, out);
    expect([...out]).toEqual(perPage(data));
    for (let k = 0; k < slots.length; k++) {
      const slot = slots[k] as number;
      const page = dest.subarray(slot * PAGE, (slot + 1) * PAGE);
      expect(Buffer.compare(page, data.subarray(k * PAGE, (k + 1) * PAGE))).toBe(0);
    }
    for (const untouched of [7, 10, 11]) {
      expect(dest.subarray(untouched * PAGE, (untouched + 1) * PAGE).every((b) => b === 0)).toBe(
        true,
      );
    }
  });
});

describe.skipIf(nativePageRoutines?.scanGatherCrc32cPages === undefined)(
  "scanGatherCrc32cPages",
  () => {
    const scanGather = nativePageRoutines?.scanGatherCrc32cPages as NonNullable<
      NonNullable<typeof nativePageRoutines>["scanGatherCrc32cPages"]
    >;

    it("copies the pages that are populated and not zero, and clears the kinds first", () => {
      const pages = pagesIn("shared", 6, 0, 9);
      pages.fill(0, 2 * PAGE, 3 * PAGE); // page 2 reads zero
      pages.fill(0, 4 * PAGE, 5 * PAGE - 1); // page 4 holds one byte, at its end
      const populated = Int32Array.of(0b11_1101 << 5); // guest pages 5.. = pages 0..; 1 not
      const kinds = Uint8Array.of(0xff);
      const dest = new Uint8Array(6 * PAGE);
      const out = new Uint32Array(6);
      expect(scanGather(pages, 6, populated, 5, kinds, dest, out)).toBe(4);
      expect(kinds[0]).toBe(0b11_1001);
      expect([...out.subarray(0, 4)]).toEqual([0, 3, 4, 5].map((p) => perPage(pages)[p]));
      expect(scanGather(pages, 6, null, 5, kinds, dest, out)).toBe(5);
      expect(kinds[0]).toBe(0b11_1011);
    });

    it("refuses a count beyond any array or the populated map, before writing", () => {
      const pages = pagesIn("plain", 4, 0, 3);
      const kinds = new Uint8Array(1);
      const dest = new Uint8Array(4 * PAGE);
      const out = new Uint32Array(4);
      const map = new Int32Array(1);
      expect(() => scanGather(pages, 5, null, 0, kinds, dest, out)).toThrow(RangeError);
      expect(() => scanGather(pages, 4, null, 0, kinds, dest.subarray(PAGE), out)).toThrow(
        RangeError,
      );
      expect(() => scanGather(pages, 4, null, 0, kinds, dest, out.subarray(1))).toThrow(RangeError);
      expect(() => scanGather(pages, 4, map, 29, kinds, dest, out)).toThrow(RangeError);
      expect(() => scanGather(pages, 4, null, -1, kinds, dest, out)).toThrow(RangeError);
      expect(() => scanGather(pages, 4, new Uint32Array(1) as never, 0, kinds, dest, out)).toThrow(
        TypeError,
      );
      expect(dest.every((b) => b === 0)).toBe(true);
      expect(out.every((c) => c === 0)).toBe(true);
    });
  },
);

describe.skipIf(nativePageRoutines === undefined)("markUnchangedPages", () => {
  const mark = nativePageRoutines?.markUnchangedPages as NonNullable<
    NonNullable<typeof nativePageRoutines>["markUnchangedPages"]
  >;

  it("compares only the pages with a positive slot and keeps the other bits", () => {
    const live = pagesIn("shared", 4, 0, 7);
    const copies = new Uint8Array(3 * PAGE);
    copies.set(live.subarray(0, PAGE), 2 * PAGE); // page 0 equals slot 3
    copies.set(live.subarray(3 * PAGE), 0); // page 3 equals slot 1, but its slot is stale
    copies.set(live.subarray(PAGE, 2 * PAGE), PAGE);
    copies[PAGE + 4095] = (copies[PAGE + 4095] as number) ^ 1; // page 1 differs from slot 2 in its last byte
    const unchanged = Uint8Array.of(0b1000_0000);
    expect(mark(live, copies, Int32Array.of(3, 2, 0, -1), unchanged)).toBe(1);
    expect(unchanged[0]).toBe(0b1000_0001);
  });

  it("refuses a slot outside the copies, too few pages or bits, and the wrong array types", () => {
    const live = new Uint8Array(2 * PAGE);
    const copies = new Uint8Array(2 * PAGE);
    const unchanged = new Uint8Array(1);
    expect(() => mark(live, copies, Int32Array.of(1, 3), unchanged)).toThrow(RangeError);
    expect(() => mark(live.subarray(PAGE), copies, Int32Array.of(1, 2), unchanged)).toThrow(
      RangeError,
    );
    expect(() => mark(new Uint8Array(9 * PAGE), copies, new Int32Array(9), unchanged)).toThrow(
      RangeError,
    );
    expect(() => mark(live, copies, Uint32Array.of(1, 2) as never, unchanged)).toThrow(TypeError);
    expect(() => (mark as (...a: unknown[]) => number)(live, copies, Int32Array.of(1))).toThrow(
      TypeError,
    );
    expect(unchanged[0]).toBe(0);
  });
});

describe.skipIf(nativePageRoutines?.moveWords === undefined)("the bitmap word routines", () => {
  const native = nativePageRoutines as NonNullable<typeof nativePageRoutines>;
  const { orWords, andWords, countWords, moveWords } = native as Required<typeof native>;

  /** `n` words of every kind a bitmap holds: empty, full, sign bit set, sparse. */
  function words(n: number, seed: number, shared = false): Int32Array {
    const w = new Int32Array(shared ? new SharedArrayBuffer(n * 4) : new ArrayBuffer(n * 4));
    let x = seed | 1;
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      w[i] = i % 4 === 0 ? 0 : i % 4 === 1 ? -1 : x;
    }
    return w;
  }

  function popcount(w: Int32Array): number {
    let n = 0;
    for (const x of w) for (let v = x >>> 0; v !== 0; v >>>= 1) n += v & 1;
    return n;
  }

  it("OR, AND and count a word at a time as the JavaScript loops do", () => {
    const a = words(1001, 3);
    const b = words(1001, 11);
    const or = a.map((x, i) => x | (b[i] as number));
    const and = a.map((x, i) => x & (b[i] as number));
    const into = a.slice();
    orWords(into, b);
    expect(into).toEqual(or);
    const kept = a.slice();
    andWords(kept, b);
    expect(kept).toEqual(and);
    expect(countWords(a)).toBe(popcount(a));
    expect(countWords(new Int32Array(0))).toBe(0);
  });

  it("move a shared log's words into another bitmap and clear them, returning the bits moved", () => {
    const log = words(517, 5, true);
    const before = log.slice();
    const into = words(517, 9);
    const expected = into.map((x, i) => x | (before[i] as number));
    expect(moveWords(log, into)).toBe(popcount(before));
    expect(into).toEqual(expected);
    expect(log.every((x) => x === 0)).toBe(true);
    expect(moveWords(log, into)).toBe(0);
  });

  it("refuse bitmaps of different lengths and arrays of another type, writing nothing", () => {
    const a = words(8, 1);
    const copy = a.slice();
    expect(() => orWords(a, new Int32Array(7))).toThrow(RangeError);
    expect(() => andWords(a, new Int32Array(9))).toThrow(RangeError);
    expect(() => moveWords(new Int32Array(8).fill(1), new Int32Array(4))).toThrow(RangeError);
    expect(() => orWords(a, new Uint32Array(8) as never)).toThrow(TypeError);
    expect(() => countWords(new Uint8Array(8) as never)).toThrow(TypeError);
    expect(() => (moveWords as (...x: unknown[]) => number)(a)).toThrow(TypeError);
    expect(a).toEqual(copy);
  });
});

describe.skipIf(nativePageRoutines?.setReceiveLowWater === undefined)("setReceiveLowWater", () => {
  const set = nativePageRoutines?.setReceiveLowWater as NonNullable<
    NonNullable<typeof nativePageRoutines>["setReceiveLowWater"]
  >;

  it("refuses a negative descriptor or a mark below one byte, and says false for a non-socket", async () => {
    const { openSync, closeSync } = await import("node:fs");
    expect(() => set(-1, 10)).toThrow(RangeError);
    expect(() => set(0, 0)).toThrow(RangeError);
    expect(() => set("3" as never, 10)).toThrow(TypeError);
    const fd = openSync(process.execPath, "r");
    try {
      expect(set(fd, 4096)).toBe(false);
    } finally {
      closeSync(fd);
    }
  });
});

/** This process's resident memory, MiB (Linux). */
function residentMiB(): number {
  const status = readFileSync("/proc/self/status", "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
}

describe.skipIf(nativePageRoutines?.releasePages === undefined)("releasePages", () => {
  const release = nativePageRoutines?.releasePages as NonNullable<
    NonNullable<typeof nativePageRoutines>["releasePages"]
  >;

  it("gives a touched SharedArrayBuffer's RAM back at once, and it reads as zeros", async () => {
    const bytes = new Uint8Array(new SharedArrayBuffer(64 * 2 ** 20));
    bytes.fill(0xa5);
    const touched = residentMiB();
    expect(release(bytes)).toBe(true);
    // 64 MiB were resident; the collector has not run and the buffer is still referenced.
    expect(touched - residentMiB()).toBeGreaterThan(48);
    expect(bytes.some((b) => b !== 0)).toBe(false);
  });

  it("zeroes the partial pages at both ends of a view and nothing outside it", () => {
    const bytes = new Uint8Array(new SharedArrayBuffer(8 * PAGE)).fill(7);
    expect(release(bytes.subarray(100, 5 * PAGE + 9))).toBe(true);
    expect(bytes.subarray(0, 100).every((b) => b === 7)).toBe(true);
    expect(bytes.subarray(100, 5 * PAGE + 9).every((b) => b === 0)).toBe(true);
    expect(bytes.subarray(5 * PAGE + 9).every((b) => b === 7)).toBe(true);
    // Less than a page: zeroed by hand.
    expect(release(bytes.subarray(6 * PAGE + 1, 6 * PAGE + 11))).toBe(true);
    expect(bytes.subarray(6 * PAGE + 1, 6 * PAGE + 11).every((b) => b === 0)).toBe(true);
    expect(bytes[6 * PAGE + 11]).toBe(7);
    expect(() => release(new Int32Array(4) as never)).toThrow(TypeError);
  });
});

describe.skipIf(nativePageRoutines?.peerHungUp === undefined)("peerHungUp", () => {
  const hungUp = nativePageRoutines?.peerHungUp as NonNullable<
    NonNullable<typeof nativePageRoutines>["peerHungUp"]
  >;

  it("sees the peer's FIN without reading what it sent before", async () => {
    const server = createServer({ pauseOnConnect: true });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as { port: number };
    const client = connect(port, "127.0.0.1");
    const [accepted] = (await once(server, "connection")) as [Socket];
    const fd = (accepted as unknown as { _handle: { fd: number } })._handle.fd;
    try {
      client.write("unread");
      await new Promise((r) => setTimeout(r, 50));
      expect(hungUp(fd)).toBe(false);
      client.end();
      await new Promise((r) => setTimeout(r, 50));
      expect(hungUp(fd)).toBe(true);
      expect(() => hungUp(-1)).toThrow(RangeError);
    } finally {
      accepted.destroy();
      client.destroy();
      server.close();
    }
  });
});
