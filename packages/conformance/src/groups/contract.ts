import {
  ALL_MIG_STATES,
  arcSessionEffect,
  DIRTY_TRACKING_METHODS,
  directArcs,
  isDirectArc,
  isLegalFlagSet,
  isMdevError,
  isStateSupported,
  type MigrationDataStream,
  MigState,
  migFlagsName,
  migStateName,
  offeredDirtyTracking,
  PluginRegistry,
} from "@mdevkit/core";
import { type CheckContext, expectMdevError, expectSuccess, Role } from "../context.js";
import type { ConformanceGroup } from "../group.js";
import { type DeviceHarness, loadDevice, reach, saveDevice, writeChunks } from "../harness.js";
import { ContractBreach, ensure } from "../violation.js";

const { ERROR, RUNNING, RESUMING } = MigState;

/** States a device with `flags` can be in (ERROR aside). */
function supportedStates(flags: number): MigState[] {
  return ALL_MIG_STATES.filter((s) => isStateSupported(flags, s));
}

/** A valid stream from another device of the same type, to feed a RESUMING session. */
async function goodStream(ctx: CheckContext): Promise<Uint8Array> {
  const src = await ctx.harness(Role.REFERENCE);
  await ctx.exercise(src);
  return (await saveDevice(src.driver)).bytes;
}

/**
 * Brings a fresh device to `state` along the kernel path. Arriving in RESUMING, a valid
 * stream is written, so RESUMING → STOP has something to apply.
 */
async function fresh(
  ctx: CheckContext,
  state: MigState,
  stream: Uint8Array,
): Promise<{ h: DeviceHarness; opened: MigrationDataStream | undefined }> {
  const h = await ctx.harness(Role.TARGET);
  const opened = await expectSuccess(
    () => reach(h.driver, state),
    `reaching ${migStateName(state)} along the kernel path`,
  );
  if (state === RESUMING && opened !== undefined) await writeChunks(opened, stream);
  return { h, opened };
}

/** Reads one byte of a saving stream; PRE_COPY's temporary end (ENOMSG) is fine too. */
async function readSome(stream: MigrationDataStream): Promise<void> {
  try {
    await stream.read(1);
  } catch (err) {
    if (!isMdevError(err, "ENOMSG")) throw err;
  }
}

/** Contract group: flags, direct arcs, refused arcs, reset (to the power-on state). */
export const contractGroup: ConformanceGroup = {
  id: "contract",
  title: "contract: flags, arcs and reset",
  catches:
    "illegal flag sets, arcs that fail, arcs that should be refused but succeed, reset that leaves a stream open or keeps the device's old state",
  checks: [
    {
      name: "declares a legal flag set and dirty-tracking method, and registers",
      async run(ctx) {
        const { plugin } = ctx;
        ensure(
          isLegalFlagSet(plugin.migrationFlags),
          `flags ${migFlagsName(plugin.migrationFlags)} are not one of the four legal sets`,
        );
        const offered = offeredDirtyTracking(plugin, ctx.options.deviceType);
        ensure(
          offered.length > 0 && offered.every((m) => DIRTY_TRACKING_METHODS.includes(m)),
          `dirty tracking [${offered.join(", ")}] must be one or more of ${DIRTY_TRACKING_METHODS.join(", ")}`,
        );
        await expectSuccess(
          () => new PluginRegistry().register(plugin),
          "registering the manifest",
        );
        const h = await ctx.harness();
        ensure(
          h.driver.dirtyTracking === ctx.dirtyTracking,
          `driver tracks by ${h.driver.dirtyTracking}, the host chose ${ctx.dirtyTracking}`,
        );
        ensure(
          h.driver.migrationFlags === ctx.flags,
          `driver declares ${migFlagsName(h.driver.migrationFlags)}, expected ${migFlagsName(ctx.flags)}`,
        );
        ensure(
          h.driver.getState() === RUNNING,
          `a new device is in ${migStateName(h.driver.getState())}, not RUNNING`,
        );
        // Every other method is refused with ENOTSUP, not silently served.
        if (ctx.dirtyTracking !== "vendor-bitmap") {
          await expectMdevError(
            () => h.driver.vendorDirtyStart(),
            `vendorDirtyStart on a ${ctx.dirtyTracking} device`,
            ["ENOTSUP"],
          );
        }
        if (ctx.dirtyTracking !== "dma-logging") {
          await expectMdevError(
            () => h.driver.logStart([{ iova: 0, length: h.memory.size }], 4096),
            `logStart on a ${ctx.dirtyTracking} device`,
            ["ENOTSUP"],
          );
        }
      },
    },
    {
      name: "every direct arc of the flag set succeeds and opens exactly the right stream",
      async run(ctx) {
        const stream = await goodStream(ctx);
        for (const [from, to] of directArcs(ctx.flags)) {
          const arc = `${migStateName(from)} → ${migStateName(to)}`;
          const { h } = await fresh(ctx, from, stream);
          const opened = await expectSuccess(() => h.driver.setState(to), `direct arc ${arc}`);
          ensure(
            h.driver.getState() === to,
            `after ${arc} the device reports ${migStateName(h.driver.getState())}`,
          );
          const effect = arcSessionEffect(from, to);
          if (effect === "opens-saving" || effect === "opens-resuming") {
            const direction = effect === "opens-saving" ? "saving" : "resuming";
            ensure(opened !== undefined, `${arc} must open a ${direction} stream, returned none`);
            ensure(
              opened.direction === direction && !opened.closed,
              `${arc} returned a ${opened.closed ? "closed " : ""}${opened.direction} stream, expected an open ${direction} one`,
            );
          } else {
            ensure(
              opened === undefined,
              `${arc} returned a stream; only arcs that open a session may`,
            );
          }
        }
      },
    },
    {
      name: "every other (from, to) request fails with EINVAL and leaves the state unchanged",
      async run(ctx) {
        const stream = await goodStream(ctx);
        // Out-of-range numbers too: a driver must not index a table with them.
        const targets: number[] = [...ALL_MIG_STATES, 8, -1];
        for (const from of supportedStates(ctx.flags)) {
          const { h } = await fresh(ctx, from, stream);
          for (const to of targets) {
            if (isDirectArc(ctx.flags, from, to)) continue;
            const arc = `${migStateName(from)} → ${migStateName(to)}`;
            await expectMdevError(
              () => h.driver.setState(to as MigState),
              `non-direct request ${arc} for flags ${migFlagsName(ctx.flags)}`,
              ["EINVAL"],
            );
            ensure(
              h.driver.getState() === from,
              `refused ${arc} left the device in ${migStateName(h.driver.getState())}`,
            );
          }
        }
      },
    },
    {
      name: "reset from every reachable state returns to RUNNING and disables the open stream",
      async run(ctx) {
        const stream = await goodStream(ctx);
        for (const state of supportedStates(ctx.flags)) {
          const { h, opened } = await fresh(ctx, state, stream);
          await expectSuccess(() => h.driver.reset(), `reset in ${migStateName(state)}`);
          ensure(
            h.driver.getState() === RUNNING,
            `reset in ${migStateName(state)} left the device in ${migStateName(h.driver.getState())}`,
          );
          if (opened !== undefined) {
            ensure(
              opened.closed,
              `reset in ${migStateName(state)} left its stream open (closed=false)`,
            );
            const op = () =>
              opened.direction === "saving" ? opened.read(1) : opened.write(Uint8Array.of(0));
            await expectMdevError(op, `using the ${migStateName(state)} stream after reset`, [
              "ENODEV",
            ]);
          }
          // The device works after reset: a whole save goes through.
          await expectSuccess(
            () => saveDevice(h.driver),
            `saving after a reset in ${migStateName(state)}`,
          );
        }
      },
    },
    {
      name: "reset after the device ran, with a session open, restores the power-on state",
      async run(ctx) {
        const stream = await goodStream(ctx);
        // Where a session can be open: saving mid-read, or resuming after an earlier
        // load applied another device's state (so "kept the old state" shows either way).
        const sessions: MigState[] = [
          ...(ctx.precopy ? [MigState.PRE_COPY] : []),
          MigState.STOP_COPY,
          RESUMING,
        ];
        for (const state of sessions) {
          const where = migStateName(state);
          const h = await ctx.harness(Role.SOURCE);
          await ctx.exercise(h, 3);
          if (state === RESUMING) await loadDevice(h.driver, stream);
          const opened = await expectSuccess(() => reach(h.driver, state), `reaching ${where}`);
          ensure(opened !== undefined, `reaching ${where} opened no stream`);
          if (opened.direction === "saving") await readSome(opened);
          else await opened.write(stream.subarray(0, Math.max(1, stream.byteLength >> 1)));
          await expectSuccess(() => h.driver.reset(), `reset in ${where}`);
          ensure(
            h.driver.getState() === RUNNING,
            `reset in ${where} left the device in ${migStateName(h.driver.getState())}`,
          );
          ensure(opened.closed, `reset in ${where} left its stream open (closed=false)`);
          await expectMdevError(
            () => (opened.direction === "saving" ? opened.read(1) : opened.write(stream)),
            `using the ${where} stream after reset`,
            ["ENODEV"],
          );
          // The reference: a device created now from the same context and seed. Both are
          // compared in STOP (describeState, or a STOP_COPY image when there is none).
          const power = await ctx.harness(Role.TARGET);
          await reach(h.driver, MigState.STOP);
          await reach(power.driver, MigState.STOP);
          ctx.expectSameState(
            await ctx.snapshot(h),
            await ctx.snapshot(power),
            `after ran-then-reset in ${where}, the device differs from a new one (reset kept state)`,
          );
        }
      },
    },
    {
      name: "ERROR refuses every request and reset leaves it for RUNNING",
      async run(ctx) {
        const h = await ctx.harness();
        if (ctx.options.driveToError !== undefined) {
          await ctx.options.driveToError(h.driver, h);
        } else {
          // Try the common way into ERROR: a load that fails and declares the device broken.
          const s = await reach(h.driver, RESUMING);
          try {
            if (s !== undefined) await s.write(new Uint8Array(64).fill(0xa5));
            await h.driver.setState(MigState.STOP);
          } catch (err) {
            if (!isMdevError(err))
              throw new ContractBreach(`garbage load failed untyped: ${String(err)}`);
          }
          if (h.driver.getState() !== ERROR) return; // this plugin cannot be driven to ERROR
        }
        ensure(
          h.driver.getState() === ERROR,
          `driveToError left the device in ${migStateName(h.driver.getState())}`,
        );
        for (const to of ALL_MIG_STATES) {
          await expectMdevError(() => h.driver.setState(to), `ERROR → ${migStateName(to)}`, [
            "EINVAL",
          ]);
          ensure(
            h.driver.getState() === ERROR,
            `a refused request left ERROR for ${migStateName(h.driver.getState())}`,
          );
        }
        await expectSuccess(() => h.driver.reset(), "reset in ERROR");
        ensure(
          h.driver.getState() === RUNNING,
          `reset in ERROR left ${migStateName(h.driver.getState())}`,
        );
      },
    },
  ],
};
