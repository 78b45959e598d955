import { describe, expect, it } from "vitest";
import { runConformanceGroup } from "../../src/index.js";
import { toyOptions } from "../fixtures/toy-options.js";
import { createToyPlugin } from "../fixtures/toy-plugin.js";

describe("bad-streams group catches half-applied loads", () => {
  it("fails for a driver that applies registers before checking the CRC", async () => {
    const halfApply = createToyPlugin({ bugs: ["half-apply"] });
    await expect(
      runConformanceGroup(
        "bad-streams",
        halfApply,
        { ...toyOptions, numRuns: 30 },
        { only: /flipped bit/ },
      ),
    ).rejects.toThrow(/half-applied/);
  });

  it("passes for the correct toy", async () => {
    await expect(
      runConformanceGroup("bad-streams", createToyPlugin(), { ...toyOptions, numRuns: 30 }),
    ).resolves.toBeDefined();
  });
});
