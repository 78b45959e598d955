import type { MigState } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import { runConformanceGroup } from "../../src/index.js";
import { toyOptions } from "../fixtures/toy-options.js";
import { createToyPlugin } from "../fixtures/toy-plugin.js";
import { mutatePlugin, mutateStream } from "../fixtures/wrap.js";

const toyPlugin = createToyPlugin();

// Bug: a resuming stream that assumes whole words and silently drops writes shorter than
// 4 bytes. Whole-stream loads work; a VMM that splits the bytes differently corrupts state.
const wordWrites = mutatePlugin(toyPlugin, (real) => ({
  setState: async (next: MigState) => {
    const stream = await real.setState(next);
    if (stream === undefined || stream.direction !== "resuming") return stream;
    return mutateStream(stream, {
      write: async (chunk) => (chunk.byteLength < 4 ? chunk.byteLength : stream.write(chunk)),
    });
  },
}));

describe("round-trip group catches chunking-dependent loads", () => {
  it("a whole-stream round trip alone does not see the bug", async () => {
    await expect(
      runConformanceGroup("round-trip", wordWrites, toyOptions, {
        only: /saved through STOP_COPY/,
      }),
    ).resolves.toBeDefined();
  });

  it("the split property fails for it", async () => {
    await expect(
      runConformanceGroup(
        "round-trip",
        wordWrites,
        { ...toyOptions, numRuns: 20 },
        { only: /split/ },
      ),
    ).rejects.toThrow(/1-byte writes/);
  });

  it("passes for the correct toy", async () => {
    await expect(runConformanceGroup("round-trip", toyPlugin, toyOptions)).resolves.toBeDefined();
  });
});
