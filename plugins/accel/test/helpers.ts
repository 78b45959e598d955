/**
 * Fixtures for the accel tests: harness-built devices (as the engine builds them), a
 * recording wrapper for DMA and interrupts, and in-process migrations through the engine.
 */
import { createDeviceHarness, type DeviceHarness } from "@mdevkit/conformance";
import {
  createHost,
  createMemoryChannelPair,
  type DirtyTrackingMethod,
  type MigrationOptionsInput,
  MigrationSource,
  MigrationTarget,
  type MigState,
  parseVmConfig,
  SimulatedVm,
  type TargetResult,
  type VendorPlugin,
} from "@mdevkit/core";
import type { AccelDriver } from "../src/index.js";
import { accelPlugin } from "../src/index.js";

/** A device built host-side like the engine builds it. */
export async function makeHarness(
  o: {
    deviceType?: string;
    options?: Record<string, unknown>;
    seed?: number;
    memoryBytes?: number;
    dirtyTracking?: DirtyTrackingMethod;
    plugin?: VendorPlugin;
  } = {},
): Promise<DeviceHarness<AccelDriver>> {
  return createDeviceHarness<AccelDriver>(o.plugin ?? accelPlugin, {
    deviceType: o.deviceType ?? "hisi-zip",
    deviceOptions: o.options ?? {},
    seed: o.seed ?? 5,
    memoryBytes: o.memoryBytes ?? 2 << 20,
    ...(o.dirtyTracking ? { dirtyTracking: o.dirtyTracking } : {}),
  });
}

/** Ticks `driver` `n` times. */
export function ticks(driver: AccelDriver, n: number): void {
  for (let i = 0; i < n; i++) driver.tick();
}

/** With submissions off, ticks and services until nothing is outstanding (or `max` ticks). */
export function drainGuest(driver: AccelDriver, max = 200): number {
  driver.setWorkload(false);
  for (let i = 0; i < max; i++) {
    if (driver.guestStats().outstanding.every((n) => n === 0)) return i;
    driver.tick();
    driver.guestService();
  }
  return max;
}

/** One DMA write or interrupt a device made, with its migration state at the time. */
export interface DeviceEvent {
  readonly host: string;
  readonly kind: "dma" | "irq";
  readonly state: MigState;
}

/**
 * Wraps `plugin` so every DMA write and interrupt of its devices is recorded with the
 * device's state at that moment: the quiescence witness on either host.
 */
export function recordingPlugin(
  plugin: VendorPlugin,
  host: string,
  log: DeviceEvent[],
): VendorPlugin {
  return {
    ...plugin,
    create: async (ctx) => {
      let driver: AccelDriver | undefined;
      const state = () => driver?.getState() ?? (2 as MigState);
      const wrapped = {
        ...ctx,
        dma: {
          read: (iova: number, n: number) => ctx.dma.read(iova, n),
          write: (iova: number, data: Uint8Array) => {
            log.push({ host, kind: "dma", state: state() });
            ctx.dma.write(iova, data);
          },
        },
        irq: {
          count: ctx.irq.count,
          raise: (v: number) => {
            log.push({ host, kind: "irq", state: state() });
            ctx.irq.raise(v);
          },
        },
      };
      driver = (await plugin.create(wrapped)) as AccelDriver;
      return driver;
    },
  };
}

/** A VM config with one accel device. */
export function vmConfig(o: {
  deviceType?: string;
  options?: Record<string, unknown>;
  dirtyTracking?: DirtyTrackingMethod;
  memoryMiB?: number;
  seed?: number;
}) {
  return parseVmConfig({
    memoryMiB: o.memoryMiB ?? 4,
    vcpus: 1,
    workloads: [{ pattern: "idle" }],
    devices: [
      {
        slot: "00:06.0",
        plugin: "accel",
        deviceType: o.deviceType ?? "hisi-zip",
        options: o.options ?? {},
        ...(o.dirtyTracking ? { dirtyTracking: o.dirtyTracking } : {}),
      },
    ],
    // Activity ticks are driven by hand; the timer is stopped right after start.
    deviceTickMs: 1000,
    seed: o.seed ?? 9,
  });
}

/** The accel driver of `vm`. */
export function accelOf(vm: SimulatedVm): AccelDriver {
  return vm.devices[0]!.driver as AccelDriver;
}

/** A started source VM whose device activity is driven by hand. */
export async function startSource(
  plugin: VendorPlugin,
  config: ReturnType<typeof vmConfig>,
): Promise<SimulatedVm> {
  const vm = await SimulatedVm.create(config, createHost({ name: "src", plugins: [plugin] }), {
    role: "source",
  });
  await vm.start();
  vm.stopDeviceActivity();
  return vm;
}

/** The outcome of {@link migrate}. */
export interface Migrated {
  readonly result: Awaited<ReturnType<MigrationSource["migrate"]>>;
  readonly target: TargetResult | undefined;
  readonly targetError: unknown;
}

/**
 * Migrates `source` to a fresh host running `targetPlugin` over a memory channel, with
 * RAM verification. `beforeRun` sees the target VM exactly as it arrived; its device
 * activity is stopped once it runs, so tests tick it by hand.
 */
export async function migrate(
  source: SimulatedVm,
  targetPlugin: VendorPlugin,
  beforeRun?: (vm: SimulatedVm) => void,
  options: MigrationOptionsInput = {},
): Promise<Migrated> {
  const channel = createMemoryChannelPair();
  const target = new MigrationTarget(
    createHost({ name: "dst", plugins: [targetPlugin] }),
    channel.target,
    {
      verifyRam: true,
      startVcpus: false,
      ...(beforeRun ? { beforeRun } : {}),
    },
  );
  const received = target.receive();
  let targetError: unknown;
  received.catch((e: unknown) => {
    targetError = e;
  });
  const result = await new MigrationSource(source, channel.source, {
    verifyRam: true,
    ...options,
  })
    .migrate()
    .catch((e: unknown) => ({ outcome: "failed" as const, error: e }));
  const t = await received.catch(() => undefined);
  t?.vm.stopDeviceActivity();
  return { result: result as Migrated["result"], target: t, targetError };
}
