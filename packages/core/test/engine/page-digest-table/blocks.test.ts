// Format version 4's RAM digest goes block by block, so a switchover rehashes only what its
// final pass changed. Before it, END's digest hashed the whole table inside the paused
// window: 1.3 ms per side at 2 GiB, and at 8 GiB most of a RAM-static VM's 27 ms downtime.
import { crc32c } from "@node-rs/crc32";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PAGE_TABLE_BLOCK_PAGES, PageDigestTable } from "../../../src/index.js";
import { specPageTableDigest, tableBytes } from "../../helpers/page-table-digest-spec.js";

const ZERO_CRC = crc32c(Buffer.alloc(4096));

/** The digest format version 4 specifies, from the table's entries. */
function specDigest(entries: Uint32Array): Uint8Array {
  return specPageTableDigest(tableBytes(entries), 4);
}

/** Two blocks and a part: every page's entry starts as a zero page's. */
const PAGES = 2 * PAGE_TABLE_BLOCK_PAGES + 5;

describe("PageDigestTable: the blockwise digest of format version 4", () => {
  it("is the default, and a fresh table digests like RAM that is all zero", () => {
    const t = new PageDigestTable(PAGES);
    expect(t.blockwise).toBe(true);
    expect(t.digest()).toEqual(specDigest(new Uint32Array(PAGES).fill(ZERO_CRC)));
    expect(new PageDigestTable(PAGES, 3).blockwise).toBe(false);
  });

  // A table that filled its entries with the zero page's CRC when made took 8–10 ms per
  // side at 2 GiB, in first-touch page faults, while the other side waited in the handshake.
  // Counted in a process of its own: page faults are counted per process, and in a test
  // worker a collection of earlier tests' garbage faults pages meanwhile.
  it.skipIf(process.platform !== "linux")(
    "writes none of its entries when made: a fresh table for 8 GiB faults in almost no memory",
    async () => {
      const { execFileSync } = await import("node:child_process");
      const table = new URL("../../../dist/engine/page-digest-table.js", import.meta.url).href;
      const script = `
        const { PageDigestTable } = await import(${JSON.stringify(table)});
        const pages = 2 * 1024 * 1024; // 8 GiB of guest RAM: an 8 MiB table, 2,048 pages
        const faults = [1, 2, 3].map(() => {
          const before = process.resourceUsage().minorPageFault;
          const t = new PageDigestTable(pages);
          const n = process.resourceUsage().minorPageFault - before;
          t.set(pages - 1, 1);
          return n;
        });
        console.log(Math.min(...faults));`;
      const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
        encoding: "utf8",
      });
      expect(Number(out.trim())).toBeLessThan(256);
    },
  );

  it("differs from the whole-table digest of versions 2–3 over the same table", () => {
    expect(new PageDigestTable(PAGES).digest()).not.toEqual(new PageDigestTable(PAGES, 3).digest());
  });

  it("after a refresh, digesting hashes only the blocks written since", () => {
    const t = new PageDigestTable(PAGES);
    t.refresh();
    expect(t.blocksHashed).toBe(3);
    t.digest();
    expect(t.blocksHashed).toBe(3);
    // A run across the first block boundary, and the last page.
    t.recordRun(PAGE_TABLE_BLOCK_PAGES - 1, 2, Uint8Array.of(0b01), Uint32Array.of(7));
    t.set(PAGES - 1, 9);
    t.digest();
    expect(t.blocksHashed).toBe(6);
    const expected = new Uint32Array(PAGES).fill(ZERO_CRC);
    expected[PAGE_TABLE_BLOCK_PAGES - 1] = 7;
    expected[PAGES - 1] = 9;
    expect(t.digest()).toEqual(specDigest(expected));
    expect(t.blocksHashed).toBe(6);
  });

  it("equals the specification after any writes, refreshes and digests in any order", () => {
    const page = fc.integer({ min: 0, max: PAGES - 1 });
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("set" as const),
        pfn: page,
        crc: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      }),
      fc.record({ kind: fc.constant("zero" as const), pfn: page }),
      fc.record({
        kind: fc.constant("run" as const),
        pfn: page,
        count: fc.integer({ min: 1, max: 2 * PAGE_TABLE_BLOCK_PAGES }),
        seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      }),
      fc.record({ kind: fc.constant("refresh" as const) }),
      fc.record({ kind: fc.constant("digest" as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const t = new PageDigestTable(PAGES);
        const model = new Uint32Array(PAGES).fill(ZERO_CRC);
        for (const o of ops) {
          if (o.kind === "set") {
            t.set(o.pfn, o.crc);
            model[o.pfn] = o.crc;
          } else if (o.kind === "zero") {
            t.zero(o.pfn);
            model[o.pfn] = ZERO_CRC;
          } else if (o.kind === "run") {
            const count = Math.min(o.count, PAGES - o.pfn);
            // Every third page zero, the rest data with CRCs from the seed.
            const kinds = new Uint8Array(Math.ceil(count / 8));
            const crcs: number[] = [];
            for (let i = 0; i < count; i++) {
              if (i % 3 === 2) {
                model[o.pfn + i] = ZERO_CRC;
                continue;
              }
              (kinds[i >> 3] as number) |= 1 << (i & 7);
              const crc = (o.seed + i * 2654435761) >>> 0;
              crcs.push(crc);
              model[o.pfn + i] = crc;
            }
            t.recordRun(o.pfn, count, kinds, Uint32Array.from(crcs));
          } else if (o.kind === "refresh") t.refresh();
          else expect(t.digest()).toEqual(specDigest(model));
        }
        expect(t.digest()).toEqual(specDigest(model));
      }),
      { numRuns: 200 },
    );
  });
});
