import { MigState } from "@mdevkit/core";
import fc from "fast-check";
import { chunkSplits, cutPoints, sizesFromCuts } from "../arbitraries.js";
import { type CheckContext, Role } from "../context.js";
import type { ConformanceGroup } from "../group.js";
import { loadDevice, reach, type SavedDevice, saveDevice } from "../harness.js";
import { ContractBreach } from "../violation.js";

/** Saves an exercised source; returns the stream and the source's state at the stop. */
async function savedSource(
  ctx: CheckContext,
  precopy: boolean,
): Promise<{ saved: SavedDevice; expected: unknown }> {
  const src = await ctx.harness(Role.SOURCE);
  await ctx.exercise(src, 3);
  const saved = await saveDevice(src.driver, {
    precopy,
    whilePrecopy: async () => ctx.exercise(src),
  });
  return { saved, expected: await ctx.snapshot(src) };
}

/** Loads `bytes` into a fresh target and compares its state with `expected`. */
async function loadAndCompare(
  ctx: CheckContext,
  bytes: Uint8Array,
  expected: unknown,
  sizes: readonly number[] | undefined,
  what: string,
): Promise<void> {
  const target = await ctx.harness(Role.TARGET);
  try {
    await loadDevice(target.driver, bytes, sizes);
  } catch (err) {
    throw new ContractBreach(`${what}: the load failed: ${String(err)}`, { cause: err });
  }
  ctx.expectSameState(await ctx.snapshot(target), expected, `${what}: target differs from source`);
  target.dispose();
}

/** Round-trip group: what one host saves, a fresh host loads into an equal device. */
export const roundTripGroup: ConformanceGroup = {
  id: "round-trip",
  title: "round trip: save, load on a fresh host, same state",
  catches: "state lost or altered in transit, loads that depend on how the bytes were chunked",
  checks: [
    {
      name: "a device saved through STOP_COPY loads into an equal device",
      async run(ctx) {
        const { saved, expected } = await savedSource(ctx, false);
        await loadAndCompare(ctx, saved.bytes, expected, undefined, "STOP_COPY only");
      },
    },
    {
      name: "a device saved through PRE_COPY then STOP_COPY loads into an equal device",
      skip: (ctx) => (ctx.precopy ? undefined : "the plugin does not declare PRE_COPY"),
      async run(ctx) {
        const { saved, expected } = await savedSource(ctx, true);
        await loadAndCompare(ctx, saved.bytes, expected, undefined, "PRE_COPY + STOP_COPY");
      },
    },
    {
      name: "loading gives the same state however the stream is split (property, down to 1-byte writes)",
      async run(ctx) {
        const { saved, expected } = await savedSource(ctx, ctx.precopy);
        const bytes = saved.bytes;
        await loadAndCompare(ctx, bytes, expected, [1], "1-byte writes");
        await fc.assert(
          fc.asyncProperty(
            fc.oneof(
              chunkSplits(bytes.byteLength),
              cutPoints(bytes.byteLength).map((c) => sizesFromCuts(bytes.byteLength, c)),
            ),
            async (sizes) =>
              loadAndCompare(ctx, bytes, expected, sizes, `split into chunks [${sizes.join(",")}]`),
          ),
          { numRuns: ctx.options.numRuns, seed: ctx.options.seed },
        );
      },
    },
    {
      name: "saving leaves the source unchanged and able to run again",
      async run(ctx) {
        const src = await ctx.harness(Role.SOURCE);
        await ctx.exercise(src, 3);
        await saveDevice(src.driver, { precopy: false });
        const before = await ctx.snapshot(src);
        // A second save of the stopped device must see the same device.
        await saveDevice(src.driver, { precopy: false });
        ctx.expectSameState(await ctx.snapshot(src), before, "a second save changed the source");
        await reach(src.driver, MigState.RUNNING);
        await ctx.exercise(src);
      },
    },
  ],
};
