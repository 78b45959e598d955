// After a pass that sent every page, the sender gathers a later pass's scattered dirty
// pages into a few sparse records that leave the clean pages between them out (format
// version 5), and the target ends up with the source's RAM and digest. Before, each
// scattered page was a record of its own: a record's fixed costs on both sides, per page.
import { describe, expect, it } from "vitest";
import { PageDigestTable } from "../../src/engine/page-digest-table.js";
import { RamSender } from "../../src/engine/ram-sender.js";
import { DirtyBitmap } from "../../src/memory/dirty-bitmap.js";
import { GuestMemory } from "../../src/memory/guest-memory.js";
import {
  applyRamRun,
  PAGE_SIZE,
  type RamPagesBody,
  StreamDecoder,
  StreamEncoder,
} from "../../src/stream/index.js";
import type { SourceChannel } from "../../src/transport/channel.js";
import { CONFIG } from "../stream/stream-fixtures.js";

const PAGES = 8192;

/** A source and a target image over one stream of format `version`. */
function pair(version: number) {
  const memory = GuestMemory.create({ size: PAGES * PAGE_SIZE, segmentSize: 4096 * PAGE_SIZE });
  const encoder = new StreamEncoder({ version });
  const decoder = new StreamDecoder({ guestPages: PAGES });
  const sourceTable = new PageDigestTable(PAGES, version);
  const targetTable = new PageDigestTable(PAGES, version);
  const target = new Uint8Array(PAGES * PAGE_SIZE);
  const records: RamPagesBody[] = [];
  const deliver = (frames: readonly Uint8Array[]): void => {
    for (const f of frames)
      for (const r of decoder.push(f)) {
        if (r.type !== "RAM_PAGES") continue;
        applyRamRun(r, target, PAGE_SIZE);
        targetTable.record(r);
        records.push(r);
      }
  };
  deliver(encoder.start({ config: CONFIG, devices: [] }));
  const channel = { send: async (f: readonly Uint8Array[]) => deliver(f) } as SourceChannel;
  const sender = new RamSender(memory, encoder, channel, sourceTable);
  const expectSame = () => {
    expect(Buffer.compare(target, memory.read(0, PAGES * PAGE_SIZE))).toBe(0);
    expect(Buffer.from(targetTable.digest()).equals(Buffer.from(sourceTable.digest()))).toBe(true);
  };
  return { memory, sender, records, expectSame };
}

type Pair = ReturnType<typeof pair>;

/** Writes page `pfn` (a pattern of `value`) and marks it dirty. */
function write(p: Pair, dirty: DirtyBitmap, pfn: number, value: number): void {
  p.memory.writePage(pfn, new Uint8Array(PAGE_SIZE).fill(value));
  dirty.set(pfn);
}

/** The first pass (every page, half of them written), then one in 16 pages rewritten. */
async function scatteredSecondPass(p: Pair) {
  const all = new DirtyBitmap(PAGES);
  for (let pfn = 0; pfn < PAGES; pfn += 2) write(p, all, pfn, 1 + (pfn % 200));
  all.setAll();
  await p.sender.send(all, "snapshot");
  p.expectSame();
  p.records.length = 0;
  const dirty = new DirtyBitmap(PAGES);
  for (let pfn = 3; pfn < PAGES; pfn += 16) write(p, dirty, pfn, 250);
  // A dirty page that became zero goes out as its bytes in a sparse record.
  p.memory.writePage(2, new Uint8Array(PAGE_SIZE));
  dirty.set(2);
  const stats = await p.sender.send(dirty, "snapshot");
  p.expectSame();
  return { stats, dirtyPages: dirty.count() };
}

describe("RamSender after a pass that sent every page", () => {
  it("gathers scattered dirty pages into a few sparse records (version 5)", async () => {
    const p = pair(5);
    const { stats, dirtyPages } = await scatteredSecondPass(p);
    expect(stats).toEqual({ dataPages: dirtyPages, zeroPages: 0, unchangedPages: 0 });
    // 513 pages over 8192: a few sparse records, not one per page.
    expect(p.records.length).toBeLessThanOrEqual(5);
    expect(p.records.every((r) => r.sparse)).toBe(true);
  });

  it("sends each scattered run as a plain record in version 4", async () => {
    const p = pair(4);
    const { stats, dirtyPages } = await scatteredSecondPass(p);
    expect(stats.dataPages + stats.zeroPages).toBe(dirtyPages);
    expect(p.records.length).toBe(dirtyPages - 1); // pages 2 and 3 are one run
    expect(p.records.some((r) => r.sparse)).toBe(false);
  });

  it("does not leave clean pages out before a pass has sent every page", async () => {
    const p = pair(5);
    const dirty = new DirtyBitmap(PAGES);
    for (let pfn = 3; pfn < 300; pfn += 16) write(p, dirty, pfn, 7);
    await p.sender.send(dirty, "snapshot");
    expect(p.records.length).toBe(dirty.count());
    expect(p.records.some((r) => r.sparse)).toBe(false);
  });
});
