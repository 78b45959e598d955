import { describe, expect, it } from "vitest";
import { PageDigestTable } from "../../src/engine/page-digest-table.js";
import { RamSender } from "../../src/engine/ram-sender.js";
import { ramSha256 } from "../../src/engine/ram-sha256.js";
import { DirtyBitmap, GuestMemory, PAGE_SIZE } from "../../src/memory/index.js";
import { StreamDecoder, StreamEncoder } from "../../src/stream/index.js";
import type { SourceChannel } from "../../src/transport/channel.js";
import { CONFIG } from "../stream/stream-fixtures.js";

// On hosts without a shared zero page (this project's CI machines among them), reading a
// never-touched page costs a page fault and backs it with memory: a 2 GiB guest with
// 0.5 GiB of untouched RAM spent over 2 s of source CPU faulting it in during its first
// pass. The populated map lets a migration skip those pages; these tests pin down which
// paths mark it, and that the sender really does not read unpopulated pages.

const mem = (pages = 64) =>
  GuestMemory.create({ size: pages * PAGE_SIZE, segmentSize: 16 * PAGE_SIZE });
const populatedPages = (m: GuestMemory) => m.populated.toPageList();

describe("GuestMemory populated map", () => {
  it("starts empty: every page of a new guest is zero without being read", () => {
    const m = mem();
    expect(m.populated.isEmpty()).toBe(true);
    expect(m.mayHoldData(5)).toBe(false);
    expect(m.isZeroPage(5)).toBe(true);
  });

  it("marks pages written by CPU, DMA or through a writable view, before they hold data", () => {
    const m = mem();
    m.write(3 * PAGE_SIZE + 100, new Uint8Array(PAGE_SIZE)); // pages 3 and 4
    m.writePage(7, new Uint8Array(PAGE_SIZE).fill(1));
    m.writeUntracked(10 * PAGE_SIZE, new Uint8Array([1])); // device DMA
    m.pageView(20);
    m.view(30 * PAGE_SIZE, 2 * PAGE_SIZE);
    expect(populatedPages(m)).toEqual([3, 4, 7, 10, 20, 30, 31]);
    // DMA stays out of the CPU dirty log, as before.
    expect(m.dirtyLog.test(10)).toBe(false);
  });

  it("a run's view marks exactly the run's data pages, its kinds read from any bit", () => {
    const m = GuestMemory.create({ size: 128 * PAGE_SIZE, segmentSize: 64 * PAGE_SIZE });
    // Bits 2.. of the kinds describe pages 28..39: data at 28, 31, 32 and 39 (across the
    // populated map's word edge at 32).
    const kinds = new Uint8Array([0b0110_0100, 0b0010_0000]);
    const view = m.runView(28, 12, kinds, 2);
    expect(view.byteLength).toBe(12 * PAGE_SIZE);
    expect(populatedPages(m)).toEqual([28, 31, 32, 39]);
    view[11 * PAGE_SIZE] = 5;
    expect(m.readPage(39)[0]).toBe(5);
    // A run must lie in one segment, as a view's range must.
    expect(() => m.runView(62, 4, kinds, 0)).toThrow(/straddles/);
  });

  it("does not mark pages that are only read", () => {
    const m = mem();
    m.read(0, 8 * PAGE_SIZE);
    m.readPage(9);
    m.peek(12 * PAGE_SIZE, 2 * PAGE_SIZE);
    m.isZeroPage(15);
    ramSha256(m);
    expect(m.populated.isEmpty()).toBe(true);
  });

  it("is shared with a guest rebuilt from the layout (a vCPU worker)", () => {
    const m = mem();
    GuestMemory.fromLayout(m.layout).writePage(40, new Uint8Array(PAGE_SIZE).fill(2));
    expect(m.mayHoldData(40)).toBe(true);
    expect(m.readPage(40)[0]).toBe(2);
  });

  it("hashes unpopulated pages as the zeros they are", () => {
    const a = mem();
    const b = mem();
    a.writePage(2, new Uint8Array(PAGE_SIZE).fill(9));
    b.writePage(2, new Uint8Array(PAGE_SIZE).fill(9));
    b.pageView(50).fill(0); // populated, still zero
    expect(ramSha256(a)).toBe(ramSha256(b));
  });
});

describe("RamSender over a partly populated guest", () => {
  /** Sends every page of `m` and decodes the stream: which pages came as data. */
  async function sendAll(m: GuestMemory) {
    const enc = new StreamEncoder();
    const frames: Uint8Array[] = [...enc.start({ config: CONFIG, devices: [] })];
    const channel = {
      role: "source",
      peer: "test",
      capabilities: {},
      send: async (f: readonly Uint8Array[]) => {
        frames.push(...f);
      },
      close: async () => {},
      destroy: () => {},
    } as unknown as SourceChannel;
    const dirty = new DirtyBitmap(m.pages);
    dirty.setAll();
    const stats = await new RamSender(m, enc, channel, new PageDigestTable(m.pages)).send(
      dirty,
      "snapshot",
    );
    const dec = new StreamDecoder({ guestPages: m.pages });
    const data: number[] = [];
    for (const f of frames)
      for (const r of dec.push(f))
        if (r.type === "RAM_PAGES")
          for (let i = 0; i < r.count; i++)
            if ((r.kinds[i >> 3]! >> (i & 7)) & 1) data.push(r.startPage + i);
    return { stats, data };
  }

  it("sends written pages as data and never reads unpopulated ones", async () => {
    const m = mem();
    m.writePage(1, new Uint8Array(PAGE_SIZE).fill(1));
    m.writeUntracked(33 * PAGE_SIZE, new Uint8Array([7]));
    // Bytes stored behind the guest's back (breaking the layout contract) on a page
    // nobody marked: were the sender to read page 60, it would send it as data.
    const { segments, segmentSize } = m.layout;
    new Uint8Array(segments[Math.floor((60 * PAGE_SIZE) / segmentSize)]!)[
      (60 * PAGE_SIZE) % segmentSize
    ] = 5;
    const { stats, data } = await sendAll(m);
    expect(data).toEqual([1, 33]);
    expect(stats).toEqual({ dataPages: 2, zeroPages: 62, unchangedPages: 0 });
  });

  it("still finds zero pages among populated ones by reading them", async () => {
    const m = mem();
    m.pageView(4); // handed out, left zero
    m.writePage(5, new Uint8Array(PAGE_SIZE).fill(3));
    const { data } = await sendAll(m);
    expect(data).toEqual([5]);
  });
});
