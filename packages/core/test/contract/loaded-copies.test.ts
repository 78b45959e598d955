import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ENGINE_VERSION, loadedCoreCopies, THIS_CORE_COPY } from "../../src/index.js";

describe("copies of @mdevkit/core in one process", () => {
  it("each copy registers itself, so a host can tell a plugin brought its own", async () => {
    const dir = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");
    expect(THIS_CORE_COPY).toEqual({ dir, version: ENGINE_VERSION });
    expect(loadedCoreCopies()).toContain(THIS_CORE_COPY);
    const before = loadedCoreCopies().length;
    // `?copy` loads the module once more, as a plugin's own copy of core would be loaded.
    const copy = (await import(
      // @ts-expect-error: the query makes a second module instance; TypeScript has no types for it
      "../../src/loaded-copies.ts?copy"
    )) as { THIS_CORE_COPY: unknown; loadedCoreCopies: () => readonly unknown[] };
    expect(copy.THIS_CORE_COPY).not.toBe(THIS_CORE_COPY);
    expect(loadedCoreCopies()).toHaveLength(before + 1);
    expect(loadedCoreCopies().at(-1)).toBe(copy.THIS_CORE_COPY);
    // Both copies read the same list.
    expect(copy.loadedCoreCopies()).toEqual(loadedCoreCopies());
  });
});
