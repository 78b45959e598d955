// A device whose options its plugin refuses: the error names the device (slot, plugin,
// type) whoever builds the VM — a source, or a target answering REJECT. Plugins know their
// options, not which of the VM's devices they were building; core adds that, once.
import { afterEach, describe, expect, it } from "vitest";
import {
  createHost,
  createMemoryChannelPair,
  MdevError,
  MigrationSource,
  MigrationTarget,
  parseVmConfig,
  SimulatedVm,
  type VendorPlugin,
} from "../../src/index.js";
import { dmaToyPlugin } from "../helpers/dma-toy-plugin.js";

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

const CONFIG = parseVmConfig({
  memoryMiB: 4,
  vcpus: 1,
  devices: [
    { slot: "00:04.0", plugin: "dma-toy", deviceType: "toy" },
    { slot: "00:05.0", plugin: "dma-toy", deviceType: "toy", options: { burst: 9 } },
  ],
});

/** dma-toy as a build that takes no options: it says what is wrong, not where. */
function strictToy(): VendorPlugin {
  const toy = dmaToyPlugin();
  return {
    ...toy,
    create: (ctx) => {
      const unknown = Object.keys(ctx.options);
      if (unknown.length > 0)
        throw new MdevError("EINVAL", `options: unknown ${unknown.join(", ")}`);
      return toy.create(ctx);
    },
  };
}

describe("a device whose options its plugin refuses", () => {
  it("building the VM fails with the plugin's code, naming slot, plugin and type", async () => {
    const host = createHost({ name: "src", plugins: [strictToy()] });
    await expect(SimulatedVm.create(CONFIG, host, { role: "source" })).rejects.toMatchObject({
      code: "EINVAL",
      message: "EINVAL: device 00:05.0 (dma-toy toy): options: unknown burst",
    });
  });

  it("a target whose plugin refuses them REJECTs naming the device", async () => {
    // The source's build of the plugin ignores options; the target's refuses them.
    const source = await SimulatedVm.create(
      CONFIG,
      createHost({ name: "src", plugins: [dmaToyPlugin()] }),
      { role: "source" },
    );
    vms.push(source);
    await source.start();
    const { source: src, target: dst } = createMemoryChannelPair();
    const received = new MigrationTarget(createHost({ name: "dst", plugins: [strictToy()] }), dst)
      .receive()
      .catch((e: unknown) => e);
    const err = await new MigrationSource(source, src).migrate().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "ECONNREFUSED", phase: "handshake", rolledBack: true });
    expect((err as Error).message).toBe(
      "ECONNREFUSED: migration failed during handshake: the target refused the VM: cannot build the VM here: device 00:05.0 (dma-toy toy): options: unknown burst",
    );
    expect(await received).toMatchObject({
      code: "EINVAL",
      message: expect.stringContaining("device 00:05.0 (dma-toy toy): options: unknown burst"),
    });
  });
});
