/**
 * Compatibility through the engine: a target whose vGPU differs refuses before the
 * source stops — at the handshake (checkCompatible) or, if its plugin lets the device
 * through, on the compat record at the start of PRE_COPY — and the source runs on.
 */
import {
  createHost,
  createMemoryChannelPair,
  MigrationSource,
  MigrationTarget,
  MigState,
  parseVmConfig,
  SimulatedVm,
  type VendorPlugin,
} from "@mdevkit/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  compatProblem,
  decodeCompat,
  type GvtgDriver,
  gvtgPlugin,
  vgpuTypeOf,
} from "../src/index.js";

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

async function attempt(targetPlugin: VendorPlugin, preCopy = true, streamVersion = 2) {
  const source = await SimulatedVm.create(
    parseVmConfig({
      memoryMiB: 4,
      vcpus: 1,
      devices: [
        {
          slot: "00:02.0",
          plugin: "gvt-g",
          deviceType: "GVTg_TEST",
          options: { streamVersion, ...(preCopy ? {} : { stopCopyOnly: true }) },
        },
      ],
      deviceTickMs: 1,
    }),
    createHost({ name: "src", plugins: [gvtgPlugin] }),
    { role: "source" },
  );
  vms.push(source);
  await source.start();
  await new Promise((r) => setTimeout(r, 30));
  const channel = createMemoryChannelPair();
  const target = new MigrationTarget(
    createHost({ name: "dst", plugins: [targetPlugin] }),
    channel.target,
  );
  const received = target.receive();
  received.catch(() => {});
  const err = await new MigrationSource(source, channel.source).migrate().catch((e: unknown) => e);
  const arrived = await received.catch(() => undefined);
  if (arrived) vms.push(arrived.vm);
  const src = source.devices[0]!.driver as GvtgDriver;
  return { err, src, source, arrived };
}

async function expectRunsOn(src: GvtgDriver): Promise<void> {
  expect(src.getState()).toBe(MigState.RUNNING);
  const before = src.vgpu.tick;
  src.tick();
  expect(src.vgpu.tick).toBe(before + 1);
}

describe("an incompatible target refuses before the source stops", () => {
  it("at the handshake: a target whose GVTg_TEST has 8 fences", async () => {
    const eightFences = { ...vgpuTypeOf("GVTg_TEST"), fences: 8 };
    const picky: VendorPlugin = {
      ...gvtgPlugin,
      checkCompatible: (source) => {
        const problem = compatProblem(decodeCompat(source.compatibility), eightFences);
        return problem
          ? { compatible: false, reason: `gvt-g: source has ${problem}` }
          : { compatible: true };
      },
    };
    const { err, src } = await attempt(picky);
    expect(err).toMatchObject({ phase: "handshake", rolledBack: true });
    expect((err as Error).message).toMatch(/4 fences, GVTg_TEST here has 8/);
    await expectRunsOn(src);
  });

  it("early in PRE_COPY: the target's device refuses the compat record of another type", async () => {
    // A target build that does not check at the handshake and builds a GVTg_V5_8 vGPU.
    const lax: VendorPlugin = {
      ...gvtgPlugin,
      checkCompatible: () => ({ compatible: true }),
      create: (ctx) => gvtgPlugin.create({ ...ctx, deviceType: "GVTg_V5_8" }),
    };
    const { err, src } = await attempt(lax);
    expect(err).toMatchObject({ rolledBack: true });
    expect((err as { phase: string }).phase).not.toBe("switchover");
    expect((err as Error).message).toMatch(/vGPU type GVTg_TEST, this device is GVTg_V5_8/);
    await expectRunsOn(src);
  });
});

describe("version skew through the engine", () => {
  it("a source writing stream v1 migrates to a v2 target; the vGPU arrives equal", async () => {
    const { err, src, arrived } = await attempt(gvtgPlugin, true, 1);
    expect(err).toMatchObject({ outcome: "completed" });
    // The source spoke v1 (no partial-PTE section); this build reads v1 and v2.
    expect(decodeCompat(src.compatibilityData()).streamVersion).toBe(1);
    const dst = arrived!.vm.devices[0]!.driver as GvtgDriver;
    // Everything arrives but a PTE the guest had half written at the stop (if its driver
    // was between the two dwords then): v1 has no section for it, so the target has none.
    expect(arrived!.devices["00:02.0"]).toEqual({
      ...gvtgPlugin.describeState!(src),
      partialPtes: [],
    });
    expect(dst.getState()).toBe(MigState.RUNNING);
  });
});
