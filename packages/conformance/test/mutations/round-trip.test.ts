import "reflect-metadata";
import type { MigState } from "@mdevkit/core";
import { mttyPlugin } from "@mdevkit/plugin-mtty";
import { describe, expect, it } from "vitest";
import { runConformanceGroup } from "../../src/index.js";
import { mttyOptions } from "../fixtures/mtty-options.js";
import { mutatePlugin, mutateStream } from "../fixtures/wrap.js";

// Bug: a resuming stream that assumes whole words and silently drops writes shorter than
// 4 bytes. Whole-stream loads work; a VMM that splits the bytes differently corrupts state.
const wordWrites = mutatePlugin(mttyPlugin, (real) => ({
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
      runConformanceGroup("round-trip", wordWrites, mttyOptions, {
        only: /saved through STOP_COPY/,
      }),
    ).resolves.toBeDefined();
  });

  it("the split property fails for it", async () => {
    await expect(
      runConformanceGroup(
        "round-trip",
        wordWrites,
        { ...mttyOptions, numRuns: 20 },
        { only: /split/ },
      ),
    ).rejects.toThrow(/1-byte writes/);
  });

  it("passes for mtty", async () => {
    await expect(runConformanceGroup("round-trip", mttyPlugin, mttyOptions)).resolves.toBeDefined();
  });
});
