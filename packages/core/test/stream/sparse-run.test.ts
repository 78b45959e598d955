// Format version 5: a RAM_PAGES head's flags word (reserved before) may carry SPARSE, and a
// sparse run's pages without data are left as the target holds them — never zero-filled,
// never counted as zero pages, never changed in the digest table. Older versions and
// undefined bits are refused where the record is read, on the ordinary and the sink path.
import { describe, expect, it } from "vitest";
import { PageDigestTable } from "../../src/engine/page-digest-table.js";
import { GuestMemory } from "../../src/memory/guest-memory.js";
import {
  applyRamRun,
  PAGE_SIZE,
  RamRunFlags,
  RecordType,
  StreamDecoder,
  StreamEncoder,
  type StreamRecord,
} from "../../src/stream/index.js";
import { CONFIG, concat, joinStream, splitStream } from "./stream-fixtures.js";

const PAGES = 16;

/** Source memory: page p filled with p + 1. */
function source(): GuestMemory {
  const m = GuestMemory.create({ size: PAGES * PAGE_SIZE });
  for (let p = 0; p < PAGES; p++) m.writePage(p, new Uint8Array(PAGE_SIZE).fill(p + 1));
  return m;
}

/**
 * A whole stream of `version`: pages 0..7 as one run with pages 2, 3 and 6 left out (bit
 * set in `unchanged`), then PRECOPY_END and END over the source table.
 */
function sparseStream(version = 5): { bytes: Uint8Array; table: PageDigestTable } {
  const m = source();
  const enc = new StreamEncoder({ version });
  const table = new PageDigestTable(PAGES, version);
  const frames = [
    ...enc.start({ config: CONFIG, devices: [] }),
    ...enc.ramRange(0, m.read(0, 8 * PAGE_SIZE), {
      unchanged: Uint8Array.of(0b0100_1100),
      onRun: (s, c, k, crcs, sparse) => table.recordRun(s, c, k, crcs, sparse),
    }),
    ...enc.precopyEnd(),
  ];
  frames.push(...enc.end(table.digest()));
  return { bytes: concat(frames), table };
}

/** Decodes `bytes` into a target whose pages all hold 0x77, with or without the RAM sink. */
function receive(bytes: Uint8Array, sink: boolean) {
  const target = GuestMemory.create({ size: PAGES * PAGE_SIZE });
  for (let p = 0; p < PAGES; p++) target.writePage(p, new Uint8Array(PAGE_SIZE).fill(0x77));
  const table = new PageDigestTable(PAGES);
  for (let p = 0; p < PAGES; p++) table.data(p, target.pageView(p));
  const dec = new StreamDecoder({ guestPages: PAGES });
  if (sink) dec.setRamSink(target);
  const image = target.read(0, PAGES * PAGE_SIZE);
  const records: StreamRecord[] = [];
  for (const r of dec.push(bytes)) {
    if (r.type === "RAM_PAGES") {
      if (r.inSink) {
        // Data went to guest memory; the image follows it for the pages the run holds.
        for (let i = 0; i < r.count; i++)
          if ((r.kinds[i >> 3]! >> (i & 7)) & 1)
            image.set(target.pageView(r.startPage + i), (r.startPage + i) * PAGE_SIZE);
      } else applyRamRun(r, image, PAGE_SIZE);
      table.record(r);
    }
    records.push(r);
  }
  return { image, records, table };
}

describe("sparse RAM_PAGES runs (format version 5)", () => {
  for (const sink of [false, true]) {
    it(`leave the pages without data as the target holds them (${sink ? "sink" : "ordinary"} path)`, () => {
      const { bytes } = sparseStream();
      const { image, records } = receive(bytes, sink);
      const run = records.find((r) => r.type === "RAM_PAGES");
      expect(run).toMatchObject({ sparse: true, count: 8 });
      // The sink path took it: its pages went straight into guest memory.
      expect(run?.type === "RAM_PAGES" && run.inSink === true).toBe(sink);
      for (let p = 0; p < PAGES; p++) {
        const kept = [2, 3, 6].includes(p) || p >= 8;
        expect(image[p * PAGE_SIZE], `page ${p}`).toBe(kept ? 0x77 : p + 1);
      }
      // END's totals count five data pages and no zero page: the left-out ones are neither.
      expect(records.at(-1)).toMatchObject({ type: "END", dataPages: 5, zeroPages: 0 });
    });
  }

  it("keep the left-out pages' entries in the digest table", () => {
    // Both tables start from the same content for the left-out pages: the source's as it
    // sent them before, the target's as it received them. Here: the same fill.
    const m = source();
    const enc = new StreamEncoder();
    const sourceTable = new PageDigestTable(PAGES);
    const targetTable = new PageDigestTable(PAGES);
    for (let p = 0; p < PAGES; p++) {
      sourceTable.data(p, m.pageView(p));
      targetTable.data(p, m.pageView(p));
    }
    const dec = new StreamDecoder({ guestPages: PAGES });
    const frames = [
      ...enc.start({ config: CONFIG, devices: [] }),
      ...enc.ramRange(0, m.read(0, 8 * PAGE_SIZE), {
        unchanged: Uint8Array.of(0b1111_0000),
        onRun: (s, c, k, crcs, sparse) => sourceTable.recordRun(s, c, k, crcs, sparse),
      }),
    ];
    for (const r of dec.push(concat(frames))) if (r.type === "RAM_PAGES") targetTable.record(r);
    expect(Buffer.from(targetTable.digest())).toEqual(Buffer.from(sourceTable.digest()));
    const zeroed = new PageDigestTable(PAGES);
    for (let p = 0; p < PAGES; p++) zeroed.data(p, m.pageView(p));
    for (let p = 4; p < 8; p++) zeroed.zero(p);
    expect(Buffer.from(targetTable.digest())).not.toEqual(Buffer.from(zeroed.digest()));
  });

  /** `bytes` with its RAM_PAGES record's flags word set to `flags`, CRCs redone. */
  function withFlags(bytes: Uint8Array, flags: number): Uint8Array {
    const { header, records } = splitStream(bytes);
    const ram = records.find((r) => r.type === RecordType.RAM_PAGES);
    if (ram === undefined) throw new Error("no RAM_PAGES record");
    new DataView(ram.payload.buffer, ram.payload.byteOffset).setUint32(12, flags, true);
    return joinStream(header, records);
  }

  for (const sink of [false, true]) {
    it(`are refused in a version 4 stream, as is any undefined flag (${sink ? "sink" : "ordinary"} path)`, () => {
      const v4 = withFlags(sparseStreamV4(), RamRunFlags.SPARSE);
      expect(() => receive(v4, sink)).toThrow(
        expect.objectContaining({ code: "EPROTO", rule: "reserved" }),
      );
      const undefinedBit = withFlags(sparseStream().bytes, RamRunFlags.SPARSE | 2);
      expect(() => receive(undefinedBit, sink)).toThrow(
        expect.objectContaining({ code: "EPROTO", rule: "reserved" }),
      );
    });
  }

  it("come out of both decode paths with the same properties, in the same order, as ordinary runs", () => {
    // One hidden class for every run keeps the target's receive path optimized: a property
    // added to some runs only deoptimized it when the first sparse run came, in the last
    // passes. The order of the keys is what V8's hidden class follows.
    const keys = [sparseStream().bytes, sparseStreamV4()].flatMap((bytes) =>
      [false, true].flatMap((sink) =>
        receive(bytes, sink)
          .records.filter((r) => r.type === "RAM_PAGES")
          .map((r) => Object.keys(r).join(",")),
      ),
    );
    expect(keys).toHaveLength(4);
    expect(new Set(keys).size).toBe(1);
  });

  it("cannot be written into a stream of version 4", () => {
    expect(() => sparseStream(4)).toThrow(/format version 5/);
  });
});

/** A version 4 stream with one ordinary run of pages 0..7. */
function sparseStreamV4(): Uint8Array {
  const m = source();
  const enc = new StreamEncoder({ version: 4 });
  return concat([
    ...enc.start({ config: CONFIG, devices: [] }),
    ...enc.ramRange(0, m.read(0, 8 * PAGE_SIZE)),
  ]);
}
