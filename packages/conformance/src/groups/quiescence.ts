import { MigState, migStateName } from "@mdevkit/core";
import { type CheckContext, Role } from "../context.js";
import type { ConformanceGroup } from "../group.js";
import { type DeviceHarness, drainStream, reach, saveDevice, writeChunks } from "../harness.js";
import { TraceRecorder } from "../trace.js";
import { ContractBreach, ensure } from "../violation.js";

const { STOP, RUNNING, STOP_COPY, RESUMING, PRE_COPY } = MigState;

/**
 * Pokes a stopped device and requires silence, as the host sees it: no DMA write on the
 * DmaPort, no interrupt on the InterruptCounter, no change of described state.
 */
async function expectQuiet(ctx: CheckContext, h: DeviceHarness, where: string): Promise<void> {
  const state = h.driver.getState();
  const from = h.trace.events.length;
  const irqs = h.irq.raised();
  const before = ctx.describe(h);
  try {
    await ctx.poke(h, 3);
  } catch (err) {
    if (!(err instanceof ContractBreach)) throw err;
    throw new ContractBreach(`${where} (${migStateName(state)}): ${err.message}`, {
      cause: err.cause,
    });
  }
  const noise = h.trace.since(from);
  if (noise.length > 0 || h.irq.raised() !== irqs) {
    throw new ContractBreach(
      `${where} (${migStateName(state)}): the stopped device acted: ${TraceRecorder.format(noise)}`,
    );
  }
  ensure(
    h.driver.getState() === state,
    `${where}: poking moved the device to ${migStateName(h.driver.getState())}`,
  );
  if (ctx.canDescribe)
    ctx.expectSameState(
      ctx.describe(h),
      before,
      `${where} (${migStateName(state)}): the stopped device's state changed`,
    );
}

/** Quiescence group: from STOP until RUNNING on the target, the device does nothing. */
export const quiescenceGroup: ConformanceGroup = {
  id: "quiescence",
  title: "quiescence: no DMA, interrupt or state change while stopped",
  catches:
    "devices that DMA, interrupt or change state while stopped, or start on the target before RUNNING",
  checks: [
    {
      name: "the source is silent in STOP and STOP_COPY, however it is poked",
      async run(ctx) {
        const h = await ctx.harness(Role.SOURCE);
        await ctx.exercise(h, 2);
        await reach(h.driver, STOP);
        await expectQuiet(ctx, h, "source after RUNNING → STOP");
        const stream = await reach(h.driver, STOP_COPY);
        await expectQuiet(ctx, h, "source in STOP_COPY before reading");
        if (stream !== undefined) await drainStream(stream);
        await expectQuiet(ctx, h, "source in STOP_COPY after reading");
        await reach(h.driver, STOP);
        await expectQuiet(ctx, h, "source back in STOP");
      },
    },
    {
      name: "a device stopped out of PRE_COPY is silent in STOP_COPY",
      skip: (ctx) => (ctx.precopy ? undefined : "the plugin does not declare PRE_COPY"),
      async run(ctx) {
        const h = await ctx.harness(Role.SOURCE);
        await ctx.exercise(h);
        const stream = await reach(h.driver, PRE_COPY);
        ensure(stream !== undefined, "RUNNING → PRE_COPY opened no stream");
        await drainStream(stream);
        await ctx.exercise(h, 2);
        await reach(h.driver, STOP_COPY);
        await expectQuiet(ctx, h, "source in STOP_COPY out of PRE_COPY");
        await drainStream(stream);
        await expectQuiet(ctx, h, "source in STOP_COPY after the final read");
      },
    },
    {
      name: "the target is silent in RESUMING and in STOP after loading, until RUNNING",
      async run(ctx) {
        const src = await ctx.harness(Role.SOURCE);
        await ctx.exercise(src, 3);
        const { bytes } = await saveDevice(src.driver);
        const target = await ctx.harness(Role.SOURCE);
        await reach(target.driver, STOP);
        // The target's creation may have touched the device; only what follows counts.
        const stream = await reach(target.driver, RESUMING);
        ensure(stream !== undefined, "STOP → RESUMING opened no stream");
        await expectQuiet(ctx, target, "target in RESUMING before any byte");
        const half = Math.floor(bytes.byteLength / 2);
        await writeChunks(stream, bytes.subarray(0, half));
        await expectQuiet(ctx, target, "target in RESUMING half-way through the stream");
        await writeChunks(stream, bytes.subarray(half));
        await reach(target.driver, STOP);
        await expectQuiet(ctx, target, "target in STOP after the load, before RUNNING");
        await reach(target.driver, RUNNING);
        await ctx.exercise(target);
      },
    },
  ],
};
