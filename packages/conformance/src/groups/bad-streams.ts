import { isMdevError, MigState, migStateName, type SourceDeviceInfo } from "@mdevkit/core";
import fc from "fast-check";
import { bitFlip, flipBit, truncation } from "../arbitraries.js";
import { type CheckContext, expectSuccess, Role } from "../context.js";
import type { ConformanceGroup } from "../group.js";
import {
  createDeviceHarness,
  type DeviceHarness,
  reach,
  saveDevice,
  writeChunks,
} from "../harness.js";
import { ContractBreach, ensure } from "../violation.js";

const { STOP, RUNNING, RESUMING, ERROR } = MigState;

/** A saved source kept around to prove it is unaffected by what targets do. */
interface Source {
  readonly h: DeviceHarness;
  readonly bytes: Uint8Array;
  readonly state: unknown;
}

async function savedSource(ctx: CheckContext): Promise<Source> {
  const h = await ctx.harness(Role.SOURCE);
  await ctx.exercise(h, 3);
  const { bytes } = await saveDevice(h.driver, { whilePrecopy: async () => ctx.exercise(h) });
  return { h, bytes, state: await ctx.snapshot(h) };
}

/** The source still describes as saved and can resume: a failed load never costs the source. */
async function expectSourceIntact(ctx: CheckContext, source: Source): Promise<void> {
  ctx.expectSameState(
    await ctx.snapshot(source.h),
    source.state,
    "the source changed while targets refused its stream",
  );
  await expectSuccess(
    () => reach(source.h.driver, RUNNING),
    "resuming the source after the failed loads",
  );
  await expectSuccess(() => ctx.exercise(source.h), "running the source after the failed loads");
}

/**
 * Loads `bytes` into a busy target and requires a typed refusal, at a write or at
 * RESUMING → STOP, with the target's state exactly as it was when RESUMING opened.
 * Returns where the refusal came ("write" or "stop").
 */
export async function expectRefusedLoad(
  ctx: CheckContext,
  bytes: Uint8Array,
  what: string,
  sizes?: readonly number[],
): Promise<"write" | "stop"> {
  const target = await ctx.harness(Role.TARGET);
  await ctx.exercise(target, 2);
  const stream = await reach(target.driver, RESUMING);
  ensure(stream !== undefined, "STOP → RESUMING opened no stream");
  const before = ctx.describe(target);
  let where: "write" | "stop" | undefined;
  try {
    await writeChunks(stream, bytes, sizes);
  } catch (err) {
    if (!isMdevError(err))
      throw new ContractBreach(`${what}: a write failed untyped: ${String(err)}`, { cause: err });
    where = "write";
  }
  if (where === undefined) {
    try {
      await target.driver.setState(STOP);
    } catch (err) {
      if (!isMdevError(err))
        throw new ContractBreach(`${what}: RESUMING → STOP failed untyped: ${String(err)}`, {
          cause: err,
        });
      where = "stop";
    }
  }
  ensure(where !== undefined, `${what} was accepted: RESUMING → STOP succeeded`);
  const state = target.driver.getState();
  ensure(
    state === RESUMING || state === ERROR,
    `after the refused load the target is in ${migStateName(state)}, expected RESUMING or ERROR`,
  );
  if (ctx.canDescribe)
    ctx.expectSameState(ctx.describe(target), before, `${what}: the refused load was half-applied`);
  // The only way out of a refused RESUMING session is reset; the device must survive it.
  await expectSuccess(() => target.driver.reset(), `${what}: reset after the refused load`);
  target.dispose();
  return where;
}

function sourceInfo(
  ctx: CheckContext,
  deviceType: string,
  compatibility: Uint8Array,
): SourceDeviceInfo {
  return { plugin: ctx.plugin.name, pluginVersion: ctx.plugin.version, deviceType, compatibility };
}

/** Bad-streams group: truncated, corrupted, newer and incompatible streams are refused cleanly. */
export const badStreamsGroup: ConformanceGroup = {
  id: "bad-streams",
  title: "bad streams: refused with a typed error, nothing half-applied, source unaffected",
  catches:
    "loads that accept damaged bytes, half-apply a refused stream, or learn of incompatibility too late",
  checks: [
    {
      name: "a truncated stream is refused (every strict prefix, property)",
      async run(ctx) {
        const source = await savedSource(ctx);
        const n = source.bytes.byteLength;
        await expectRefusedLoad(ctx, new Uint8Array(0), "an empty stream");
        await expectRefusedLoad(
          ctx,
          source.bytes.subarray(0, n - 1),
          "the stream minus its last byte",
        );
        await fc.assert(
          fc.asyncProperty(truncation(n), async (cut) => {
            await expectRefusedLoad(
              ctx,
              source.bytes.subarray(0, cut),
              `the stream cut at ${cut} of ${n} bytes`,
            );
          }),
          { numRuns: ctx.options.numRuns, seed: ctx.options.seed },
        );
        await expectSourceIntact(ctx, source);
      },
    },
    {
      name: "a stream with a flipped bit is refused (property over positions)",
      async run(ctx) {
        const source = await savedSource(ctx);
        const n = source.bytes.byteLength;
        await fc.assert(
          fc.asyncProperty(bitFlip(n), async ({ offset, bit }) => {
            await expectRefusedLoad(
              ctx,
              flipBit(source.bytes, offset, bit),
              `the stream with bit ${bit} of byte ${offset} flipped`,
            );
          }),
          { numRuns: ctx.options.numRuns, seed: ctx.options.seed },
        );
        await expectSourceIntact(ctx, source);
      },
    },
    {
      name: "a stream from a newer plugin version is refused",
      skip: (ctx) => (ctx.options.newerVersionStream ? undefined : "no newerVersionStream hook"),
      async run(ctx) {
        const source = await savedSource(ctx);
        const newer = ctx.options.newerVersionStream!(source.bytes.slice());
        await expectRefusedLoad(ctx, newer, "a stream from a newer version");
        await expectRefusedLoad(ctx, newer, "a stream from a newer version, in 1-byte writes", [1]);
        await expectSourceIntact(ctx, source);
      },
    },
    {
      name: "checkCompatible accepts the device's own data and refuses incompatible data with a reason",
      async run(ctx) {
        const h = await ctx.harness();
        const own = h.driver.compatibilityData();
        const verdict = ctx.plugin.checkCompatible(sourceInfo(ctx, ctx.options.deviceType, own));
        ensure(
          verdict.compatible,
          () =>
            `checkCompatible refuses the device's own data: ${verdict.compatible ? "" : verdict.reason}`,
        );
        if (ctx.options.incompatibleCompat !== undefined) {
          const bad = ctx.plugin.checkCompatible(
            sourceInfo(ctx, ctx.options.deviceType, ctx.options.incompatibleCompat(own.slice())),
          );
          ensure(!bad.compatible, "checkCompatible accepts the incompatible compatibility data");
          ensure(
            !bad.compatible && bad.reason.length > 0,
            "checkCompatible refuses without a reason",
          );
        }
        const foreign = ctx.plugin.checkCompatible({
          ...sourceInfo(ctx, ctx.options.deviceType, own),
          plugin: `not-${ctx.plugin.name}`,
        });
        ensure(!foreign.compatible, "checkCompatible accepts a device of another plugin");
      },
    },
    {
      name: "a stream from a device type checkCompatible refuses is refused on load too",
      skip: (ctx) =>
        ctx.plugin.deviceTypes.length > 1 ? undefined : "the plugin offers one device type",
      async run(ctx) {
        for (const other of ctx.plugin.deviceTypes) {
          if (other.name === ctx.options.deviceType) continue;
          const h = await createDeviceHarness(ctx.plugin, {
            deviceType: other.name,
            seed: ctx.options.seed,
            memoryBytes: ctx.options.memoryBytes,
            interruptVectors: ctx.options.interruptVectors,
          });
          const verdict = ctx.plugin.checkCompatible(
            sourceInfo(ctx, ctx.options.deviceType, h.driver.compatibilityData()),
          );
          if (verdict.compatible) continue;
          const { bytes } = await saveDevice(h.driver);
          await expectRefusedLoad(ctx, bytes, `a stream saved by a "${other.name}" device`);
          h.dispose();
        }
      },
    },
    {
      name: "a corrupted early-validated prefix is refused by a write, before STOP",
      skip: (ctx) =>
        ctx.options.earlyValidationBytes ? undefined : "no earlyValidationBytes declared",
      async run(ctx) {
        const source = await savedSource(ctx);
        const prefix = Math.min(ctx.options.earlyValidationBytes!, source.bytes.byteLength);
        await fc.assert(
          fc.asyncProperty(
            bitFlip(prefix),
            fc.integer({ min: 1, max: prefix }),
            async ({ offset, bit }, chunk) => {
              const bad = flipBit(source.bytes, offset, bit).subarray(0, prefix);
              const where = await expectRefusedLoad(
                ctx,
                bad,
                `a prefix with bit ${bit} of byte ${offset} flipped`,
                [chunk],
              );
              ensure(
                where === "write",
                `a corrupted ${prefix}-byte prefix (bit ${bit} of byte ${offset}) was only refused at STOP, not on write`,
              );
            },
          ),
          { numRuns: ctx.options.numRuns, seed: ctx.options.seed },
        );
        await expectSourceIntact(ctx, source);
      },
    },
  ],
};
