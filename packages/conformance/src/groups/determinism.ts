import { MigState } from "@mdevkit/core";
import { bytesEqual, firstDifference, hexPreview } from "../bytes.js";
import { type CheckContext, Role } from "../context.js";
import type { ConformanceGroup } from "../group.js";
import { type DeviceHarness, loadDevice, reach, type SavedDevice, saveDevice } from "../harness.js";
import { statesEqual } from "../state-compare.js";
import { type TraceEvent, TraceRecorder } from "../trace.js";
import { ContractBreach, ensure } from "../violation.js";

/** The same script on a fresh device: exercise, precopy, more work, switchover. */
async function scriptedSave(ctx: CheckContext): Promise<{ h: DeviceHarness; saved: SavedDevice }> {
  const h = await ctx.harness(Role.SOURCE);
  await ctx.exercise(h, 3);
  const saved = await saveDevice(h.driver, { whilePrecopy: async () => ctx.exercise(h, 2) });
  return { h, saved };
}

function expectSameBytes(a: Uint8Array, b: Uint8Array, what: string): void {
  if (bytesEqual(a, b)) return;
  const at = firstDifference(a, b);
  throw new ContractBreach(
    `${what} differ between two runs with the same seed: ${a.byteLength} vs ${b.byteLength} bytes, first difference at byte ${at} (${hexPreview(a.subarray(at, at + 8))} vs ${hexPreview(b.subarray(at, at + 8))})`,
  );
}

function expectSameTrace(a: readonly TraceEvent[], b: readonly TraceEvent[], what: string): void {
  if (statesEqual(a, b)) return;
  let i = 0;
  while (i < Math.min(a.length, b.length) && statesEqual(a[i], b[i])) i++;
  throw new ContractBreach(
    `${what} differ at event ${i} of ${a.length}/${b.length}: ${TraceRecorder.format(a.slice(i, i + 1))} vs ${TraceRecorder.format(b.slice(i, i + 1))}`,
  );
}

/** A target on a fresh host with the source's guest RAM (what RAM migration delivers). */
async function migratedTarget(
  ctx: CheckContext,
  source: DeviceHarness,
  bytes: Uint8Array,
): Promise<DeviceHarness> {
  const t = await ctx.harness(Role.TARGET);
  await reach(t.driver, MigState.STOP);
  t.memory.writeUntracked(0, source.memory.read(0, source.memory.size));
  await loadDevice(t.driver, bytes);
  return t;
}

/** Determinism group: same seed and migration point, same bytes and same behaviour. */
export const determinismGroup: ConformanceGroup = {
  id: "determinism",
  title: "determinism: same seed, same streams, same traces",
  catches:
    "streams or device behaviour that depend on anything but the seed and the guest's actions",
  checks: [
    {
      name: "two runs with the same seed save byte-identical streams after identical traces",
      async run(ctx) {
        const a = await scriptedSave(ctx);
        const b = await scriptedSave(ctx);
        expectSameTrace(
          a.h.trace.events,
          b.h.trace.events,
          "DMA/interrupt traces before switchover",
        );
        expectSameBytes(a.saved.precopy, b.saved.precopy, "PRE_COPY bytes");
        expectSameBytes(a.saved.stopCopy, b.saved.stopCopy, "STOP_COPY bytes");
      },
    },
    {
      name: "a migrated device continues exactly as the source would have",
      async run(ctx) {
        const { h: source, saved } = await scriptedSave(ctx);
        const target = await migratedTarget(ctx, source, saved.bytes);
        const again = await migratedTarget(ctx, source, saved.bytes);
        // The source returning to RUNNING is the reference: migration must be invisible.
        const marks = [source, target, again].map((d) => d.trace.events.length);
        for (const d of [source, target, again]) {
          await reach(d.driver, MigState.RUNNING);
          ctx.tick(d, ctx.options.ticksPerRound * 4);
        }
        const [s, t, t2] = [source, target, again].map((d, i) => d.trace.since(marks[i] ?? 0));
        ensure(s !== undefined && t !== undefined && t2 !== undefined, "internal: missing trace");
        expectSameTrace(t, t2, "two targets loaded from the same stream: traces");
        expectSameTrace(t, s, "target after migration vs source resumed in place: traces");
        if (ctx.canDescribe)
          ctx.expectSameState(
            ctx.describe(target),
            ctx.describe(source),
            "after running on, target vs source",
          );
      },
    },
  ],
};
