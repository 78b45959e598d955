import { describe, expect, it } from "vitest";
import { PageDigestTable } from "../../../src/index.js";

describe("PageDigestTable: validation", () => {
  it.each([-1, 1.5, Number.NaN, 2 ** 53])("refuses a page count of %s with EINVAL", (pages) => {
    expect(() => new PageDigestTable(pages)).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });

  it("accepts an empty guest (no pages) and digests the empty table", () => {
    expect(new PageDigestTable(0).digest()).toHaveLength(32);
  });
});
