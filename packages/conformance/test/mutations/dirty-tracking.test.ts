import { MigState } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import { runConformanceGroup } from "../../src/index.js";
import { toyOptions } from "../fixtures/toy-options.js";
import { createToyPlugin } from "../fixtures/toy-plugin.js";
import { mutatePlugin } from "../fixtures/wrap.js";

const toyPlugin = createToyPlugin();

// Bug 1: the report loses the lowest dirty page of every read.
const dropsPage = mutatePlugin(toyPlugin, (real) => ({
  logReadAndClear: async (
    iova: number,
    length: number,
    pageSize: number,
    bitmap: BigUint64Array,
  ) => {
    const mine = new BigUint64Array(bitmap.length);
    await real.logReadAndClear(iova, length, pageSize, mine);
    const w = mine.findIndex((x) => x !== 0n);
    if (w >= 0) mine[w] = mine[w]! & (mine[w]! - 1n);
    for (let i = 0; i < bitmap.length; i++) bitmap[i] = bitmap[i]! | mine[i]!;
  },
}));

// Bug 2: stopping flushes a last status write to guest memory that the log never sees —
// the "final report before STOP" class of bug that only a report taken after STOP exposes.
const unloggedFlush = mutatePlugin(toyPlugin, (real, ctx) => ({
  setState: async (next: MigState) => {
    const stream = await real.setState(next);
    if (next === MigState.STOP || next === MigState.STOP_COPY)
      ctx.dma.write(0xf_0000, Uint8Array.of(0xee));
    return stream;
  },
}));

const only = { only: /every page written/ };

describe("dirty-tracking group catches lost dirty pages", () => {
  it("fails for a log that drops a page", async () => {
    await expect(
      runConformanceGroup("dirty-tracking", dropsPage, toyOptions, only),
    ).rejects.toThrow(/dma-logging lost \d+ page/);
  });

  it("fails for a device whose stop writes guest memory without logging it", async () => {
    await expect(
      runConformanceGroup("dirty-tracking", unloggedFlush, toyOptions, only),
    ).rejects.toThrow(/lost 1 page\(s\) .*guest pages 240/);
  });

  it("passes for the correct toy", async () => {
    await expect(
      runConformanceGroup("dirty-tracking", toyPlugin, toyOptions),
    ).resolves.toBeDefined();
  });
});
