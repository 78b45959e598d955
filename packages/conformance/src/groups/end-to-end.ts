import {
  createHost,
  createMemoryChannelPair,
  MigrationSource,
  MigrationTarget,
  MigState,
  migStateName,
  parseVmConfig,
  SimulatedVm,
} from "@mdevkit/core";
import type { ConformanceGroup } from "../group.js";
import { createRng, deriveSeed } from "../rng.js";
import { ensure } from "../violation.js";

/** End-to-end group: one real migration through the engine over an in-memory channel. */
export const endToEndGroup: ConformanceGroup = {
  id: "end-to-end",
  title: "end to end: a migration through the real engine",
  catches:
    "plugins that pass every unit check but break inside the engine's handshake, precopy or handover",
  checks: [
    {
      name: "a VM with the device migrates over a memory channel; RAM and device arrive intact",
      async run(ctx) {
        const { plugin } = ctx;
        const config = parseVmConfig({
          memoryMiB: Math.max(1, Math.ceil(ctx.options.memoryBytes / 2 ** 20)),
          vcpus: 1,
          workloads: [{ pattern: "hot-set", pagesPerSecond: 2000, hotSetPages: 32 }],
          devices: [
            {
              slot: "00:04.0",
              plugin: plugin.name,
              deviceType: ctx.options.deviceType,
              options: { ...ctx.options.deviceOptions },
              dirtyTracking: ctx.options.dirtyTracking,
            },
          ],
          // Slow activity ticks: device state changes only where the check drives it.
          deviceTickMs: 1000,
          seed: ctx.options.seed,
        });
        const source = await SimulatedVm.create(
          config,
          createHost({ name: "src", plugins: [plugin] }),
          { role: "source" },
        );
        let targetVm: SimulatedVm | undefined;
        try {
          const dev = source.devices[0]!;
          const rng = createRng(deriveSeed(ctx.options.seed, 9));
          for (let r = 0; r < 3; r++) {
            await ctx.options.exercise?.(dev.driver, rng);
            for (let i = 0; i < ctx.options.ticksPerRound; i++) dev.driver.tick?.();
          }
          await source.start();
          const channel = createMemoryChannelPair();
          // The target's device state is taken before its guest and activity start: a
          // slow run must not let one activity tick land between resume and the comparison.
          let arrivedState: unknown;
          const target = new MigrationTarget(
            createHost({ name: "dst", plugins: [plugin] }),
            channel.target,
            {
              verifyRam: true,
              beforeRun: (vm) => {
                const d = vm.devices[0];
                if (d !== undefined) arrivedState = ctx.options.describeState?.(d.driver);
              },
            },
          );
          const received = target.receive();
          received.catch(() => {});
          const result = await new MigrationSource(source, channel.source, {
            verifyRam: true,
          }).migrate();
          const arrived = await received;
          targetVm = arrived.vm;
          ensure(result.outcome === "completed", `migration ended ${String(result.outcome)}`);
          ensure(
            arrived.ramSha256 === result.ramSha256,
            "target RAM differs from source RAM at pause",
          );
          const tdev = arrived.vm.devices[0]!;
          ensure(
            tdev.driver.getState() === MigState.RUNNING,
            `target device is ${migStateName(tdev.driver.getState())}, not RUNNING`,
          );
          ensure(
            dev.driver.getState() !== MigState.RUNNING,
            "the source device runs again after a completed migration",
          );
          if (ctx.options.describeState !== undefined) {
            ctx.expectSameState(
              arrivedState,
              ctx.options.describeState(dev.driver),
              "target device differs from source device",
            );
          }
          await ctx.options.exercise?.(tdev.driver, rng);
          tdev.driver.tick?.();
        } finally {
          await source.destroy();
          await targetVm?.destroy();
        }
      },
    },
  ],
};
