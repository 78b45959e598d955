import {
  createHost,
  DirtyBitmap,
  DirtySync,
  type DirtyTrackingMethod,
  MdevError,
  MigState,
  parseVmConfig,
  SimulatedVm,
  type VendorDriver,
  type VendorPlugin,
} from "@mdevkit/core";
import { expectMdevError, expectSuccess, Role } from "../context.js";
import { dirtyReaderFor } from "../dirty-reader.js";
import type { ConformanceGroup } from "../group.js";
import { drainStream, reach } from "../harness.js";
import { ContractBreach, ensure } from "../violation.js";

const { STOP_COPY, PRE_COPY } = MigState;

/** A driver whose dirty report always fails, as a broken device tracker would. */
function failingReports(driver: VendorDriver): VendorDriver {
  const fail = async (): Promise<void> => {
    throw new MdevError("EIO", "injected dirty-log failure");
  };
  return new Proxy(driver, {
    get(target, prop) {
      if (prop === "logReadAndClear" || prop === "reportDirtyPages") return fail;
      const value: unknown = Reflect.get(target, prop, target);
      // Methods run on the real driver: its #private fields do not exist on the proxy.
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Runs two syncs through the engine's DirtySync and returns the pages the second found. */
async function secondSync(
  plugin: VendorPlugin,
  deviceType: string,
  options: Readonly<Record<string, unknown>>,
  dirtyTracking: DirtyTrackingMethod,
): Promise<{ found: number; pages: number }> {
  const host = createHost({ name: `conformance-${plugin.name}`, plugins: [plugin] });
  const config = parseVmConfig({
    memoryMiB: 1,
    vcpus: 1,
    initialFill: 0,
    devices: [{ slot: "00:04.0", plugin: plugin.name, deviceType, options, dirtyTracking }],
  });
  const vm = await SimulatedVm.create(config, host, { role: "target" });
  try {
    const sync = new DirtySync(vm);
    await sync.start();
    await sync.sync(new DirtyBitmap(vm.memory.pages)); // the CPU log starts all dirty
    const second = new DirtyBitmap(vm.memory.pages);
    const found = await sync.sync(second);
    await sync.stop();
    return { found, pages: vm.memory.pages };
  } finally {
    await vm.destroy();
  }
}

/** Dirty-tracking group: nothing the device wrote is missing from its reports. */
export const dirtyTrackingGroup: ConformanceGroup = {
  id: "dirty-tracking",
  title: "dirty tracking: every page the device wrote is reported, the last report after STOP",
  catches: "dirty logs that drop pages, miss writes made while stopping, or fail silently",
  checks: [
    {
      name: "every page written after tracking started is reported, the final report taken after STOP",
      async run(ctx) {
        const h = await ctx.harness(Role.SOURCE);
        await ctx.exercise(h);
        const reader = dirtyReaderFor(h);
        await expectSuccess(() => reader.start(), `starting ${ctx.dirtyTracking} tracking`);
        h.oracle.reset();
        const reported = new DirtyBitmap(h.memory.pages);
        for (let round = 0; round < 3; round++) {
          await ctx.exercise(h);
          await reader.sync(reported);
        }
        if (ctx.precopy) {
          const stream = await reach(h.driver, PRE_COPY);
          if (stream !== undefined) await drainStream(stream);
          await ctx.exercise(h, 2);
          await reader.sync(reported);
          await ctx.exercise(h);
        } else await ctx.exercise(h, 2);
        // Switchover: stop first, then the last report — writes made while stopping count.
        await reach(h.driver, STOP_COPY);
        await reader.sync(reported);
        const lost = h.oracle.missing(reported);
        if (lost.length > 0) {
          throw new ContractBreach(
            `${ctx.dirtyTracking} lost ${lost.length} page(s) the device wrote (guest pages ${lost.slice(0, 8).join(", ")}); the target would run on stale memory`,
          );
        }
        await reader.stop();
      },
    },
    {
      name: "DMA logging refuses a second START and reports while stopped, and tolerates STOP twice",
      skip: (ctx) =>
        ctx.dirtyTracking === "dma-logging" ? undefined : "the device does not log DMA",
      async run(ctx) {
        const h = await ctx.harness();
        const size = h.memory.size;
        const bitmap = new BigUint64Array(Math.ceil(size / 4096 / 64));
        await expectMdevError(
          () => h.driver.logReadAndClear(0, size, 4096, bitmap),
          "a report before START",
          ["EINVAL"],
        );
        const pageSize = await h.driver.logStart([{ iova: 0, length: size }], 4096);
        ensure(
          pageSize >= 4096 && (pageSize & (pageSize - 1)) === 0,
          `START chose page size ${pageSize}`,
        );
        await expectMdevError(
          () => h.driver.logStart([{ iova: 0, length: size }], 4096),
          "a second START",
          ["EINVAL"],
        );
        await h.driver.logStop();
        await expectSuccess(() => h.driver.logStop(), "a second STOP");
        await expectMdevError(
          () => h.driver.logReadAndClear(0, size, 4096, bitmap),
          "a report after STOP",
          ["EINVAL"],
        );
      },
    },
    {
      name: "a failing dirty report makes the engine's DirtySync treat all memory as dirty",
      skip: (ctx) =>
        ctx.dirtyTracking === "iommu-pinned"
          ? "the IOMMU reports pinned pages itself; no device call can fail"
          : undefined,
      async run(ctx) {
        const { deviceType, deviceOptions, dirtyTracking } = ctx.options;
        const broken: VendorPlugin = {
          ...ctx.plugin,
          create: async (dctx) => failingReports(await ctx.plugin.create(dctx)),
        };
        const failed = await secondSync(broken, deviceType, deviceOptions, dirtyTracking);
        ensure(
          failed.found === failed.pages,
          `after a failed ${ctx.dirtyTracking} report, only ${failed.found} of ${failed.pages} pages were treated as dirty`,
        );
        // Control: the healthy device does not make everything dirty, so the check above means something.
        const healthy = await secondSync(ctx.plugin, deviceType, deviceOptions, dirtyTracking);
        ensure(
          healthy.found < healthy.pages,
          "a healthy device's second sync already reports all memory dirty",
        );
      },
    },
  ],
};
