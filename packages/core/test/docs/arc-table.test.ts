import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderArcTable } from "../../src/index.js";

const guide = readFileSync(
  new URL("../../../../docs/writing-a-plugin.md", import.meta.url),
  "utf8",
);

describe("the plugin guide's arc table", () => {
  it("is the table AbstractVendorDriver runs (regenerate: node scripts/render-arc-table.mjs)", () => {
    const block = /<!-- arc-table:start -->\n([\s\S]*?)\n<!-- arc-table:end -->/.exec(guide);
    expect(block, "docs/writing-a-plugin.md lacks the arc-table block").not.toBeNull();
    expect(block?.[1]).toBe(renderArcTable());
  });
});
