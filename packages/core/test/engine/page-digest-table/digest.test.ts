import { crc32c } from "@node-rs/crc32";
import { describe, expect, it } from "vitest";
import { PageDigestTable } from "../../../src/index.js";
import { specPageTableDigest, tableBytes } from "../../helpers/page-table-digest-spec.js";

const PAGE = 4096;

/** A version 3 table: its digest hashes the whole table. */
function table(pages: number): PageDigestTable {
  return new PageDigestTable(pages, 3);
}

function page(fill: number): Uint8Array {
  return new Uint8Array(PAGE).fill(fill);
}

/**
 * The digest format versions 2–3 specify: SHA-256 over the LE u32 CRC32C of every page.
 * The tests below build their tables in version 3; `blocks.test.ts` has version 4's.
 */
function specDigest(pages: readonly Uint8Array[]): Uint8Array {
  return specPageTableDigest(tableBytes(pages.map((p) => crc32c(Buffer.from(p)))), 3);
}

describe("PageDigestTable: the whole-table digest of format versions 2–3", () => {
  it("a fresh table digests like RAM that is all zero", () => {
    expect(table(3).digest()).toEqual(specDigest([page(0), page(0), page(0)]));
  });

  it("digests as the stream format specifies: SHA-256 of each page's CRC32C, little-endian", () => {
    const t = table(2);
    t.data(1, page(7));
    expect(t.digest()).toEqual(specDigest([page(0), page(7)]));
  });

  it("recording a page by its CRC equals recording its content", () => {
    const byContent = table(1);
    byContent.data(0, page(9));
    const byCrc = table(1);
    byCrc.set(0, crc32c(Buffer.from(page(9))));
    expect(byCrc.digest()).toEqual(byContent.digest());
  });

  it("a zero marker replaces a page's earlier content", () => {
    const t = table(2);
    t.data(0, page(1));
    t.zero(0);
    expect(t.digest()).toEqual(table(2).digest());
  });

  it("set without a CRC records a zero page", () => {
    const t = table(1);
    t.data(0, page(3));
    t.set(0, undefined);
    expect(t.digest()).toEqual(table(1).digest());
  });

  it("only the last content of a page counts", () => {
    const t = table(1);
    t.data(0, page(1));
    t.data(0, page(2));
    expect(t.digest()).toEqual(specDigest([page(2)]));
  });

  it("depends on where each content sits: swapping two pages changes the digest", () => {
    const a = table(2);
    a.data(0, page(1));
    a.data(1, page(2));
    const b = table(2);
    b.data(0, page(2));
    b.data(1, page(1));
    expect(a.digest()).not.toEqual(b.digest());
  });
});

describe("PageDigestTable.recordRun", () => {
  it("records a run's data pages by CRC and the rest as zero, like set() page by page", () => {
    const byRun = table(6);
    const byPage = table(6);
    byRun.data(2, page(5));
    byPage.data(2, page(5));
    // Pages 1..4: data, zero, data, zero.
    byRun.recordRun(1, 4, Uint8Array.of(0b0101), Uint32Array.of(11, 33));
    byPage.set(1, 11);
    byPage.zero(2);
    byPage.set(3, 33);
    byPage.zero(4);
    expect(byRun.digest()).toEqual(byPage.digest());
  });

  it("refuses a run outside the table", () => {
    expect(() => table(4).recordRun(3, 2, Uint8Array.of(0), new Uint32Array(0))).toThrow(
      /outside the table/,
    );
  });
});
