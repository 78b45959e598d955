import { fakeDeviceContext, loadDevice, saveDevice } from "@mdevkit/conformance";
import { createHost, isMdevError, MigrationError, MigState } from "@mdevkit/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  createSriovNicPlugin,
  describeState,
  type SriovNicDriver,
  sriovNicPlugin,
} from "../src/index.js";
import { destroyVms, migrate, Recorder, sourceVm, until } from "./migration-helpers.js";

afterEach(destroyVms);

function device(options: Record<string, unknown> = {}, plugin = sriovNicPlugin): SriovNicDriver {
  const ctx = fakeDeviceContext(plugin, {
    deviceType: "igbvf-2q",
    options: { profile: "test", ...options },
    memoryBytes: 2 << 20,
    seed: 9,
  });
  return plugin.create(ctx) as SriovNicDriver;
}

describe("manifest and options", () => {
  it("registers with a host, and its devices carry the full flag set unless narrowed", () => {
    expect(() => createHost({ name: "h", plugins: [sriovNicPlugin] })).not.toThrow();
    expect(device().migrationFlags).toBe(sriovNicPlugin.migrationFlags);
    expect(device({ migration: "stop-copy" }).migrationFlags).toBe(1);
  });

  it("refuses bad options with EINVAL naming them, and trust on a host that forbids it with EPERM", () => {
    for (const bad of [
      { profile: "huge" },
      { mac: "01:00:00:00:00:01" },
      { nonsense: 1 },
      { portVlan: 5000 },
    ]) {
      let err: unknown;
      try {
        device(bad);
      } catch (e) {
        err = e;
      }
      expect(isMdevError(err, "EINVAL"), JSON.stringify(bad)).toBe(true);
    }
    const strict = createSriovNicPlugin({ caps: { allowTrust: false } });
    expect(() => device({ trust: true }, strict)).toThrow(/does not allow trusted/);
    expect(() => device({ guestBase: 0x1ff000 })).toThrow(/does not fit/);
  });
});

describe("link", () => {
  it("the fault test's link flap is what the guest sees; a stopped VF refuses it", async () => {
    const d = device();
    for (let t = 0; t < 5; t++) d.tick();
    expect(d.guestView().linkDownSeen).toBe(0);
    d.setLinkState(false);
    d.tick();
    d.tick();
    expect(d.guestView().linkDownSeen).toBe(2);
    d.setLinkState(true);
    d.tick();
    expect(d.guestView().linkDownSeen).toBe(2);
    await d.setState(MigState.RUNNING_P2P);
    await d.setState(MigState.STOP);
    expect(() => d.setLinkState(false)).toThrow(/stopped|STOP/);
    expect(d.snapshot().link.up).toBe(true);
  });
});

describe("compatibility and PF provisioning", () => {
  it("checkCompatible refuses fewer queue pairs, a missing feature, an older mailbox API and trust where it is forbidden", () => {
    const src = device({ trust: true });
    const info = {
      plugin: "sriov-nic",
      pluginVersion: "0.1.0",
      deviceType: "igbvf-2q",
      compatibility: src.compatibilityData(),
    };
    expect(sriovNicPlugin.checkCompatible(info)).toEqual({ compatible: true });
    const verdict = (caps: Parameters<typeof createSriovNicPlugin>[0]) =>
      createSriovNicPlugin(caps).checkCompatible(info);
    expect(verdict({ caps: { queuePairs: 1 } })).toMatchObject({
      compatible: false,
      reason: /queue pairs/,
    });
    expect(verdict({ caps: { features: 0 } })).toMatchObject({
      compatible: false,
      reason: /lacks feature/,
    });
    expect(verdict({ caps: { mbxApi: 0x11 } })).toMatchObject({
      compatible: false,
      reason: /mailbox API/,
    });
    expect(verdict({ caps: { allowTrust: false } })).toMatchObject({
      compatible: false,
      reason: /trusted/,
    });
    expect(
      sriovNicPlugin.checkCompatible({ ...info, compatibility: new Uint8Array(7) }),
    ).toMatchObject({
      compatible: false,
      reason: /malformed/,
    });
  });

  it("a target whose PF was provisioned with another MAC refuses the stream as soon as the compat image arrives", async () => {
    const src = device({ mac: "02:00:00:00:aa:01" });
    for (let t = 0; t < 10; t++) src.tick();
    const saved = await saveDevice(src);
    const other = device({ mac: "02:00:00:00:aa:02" });
    const before = describeState(other);
    await expect(loadDevice(other, saved.bytes)).rejects.toThrow(/provisioned/);
    expect(describeState(other)).toEqual(before);
    const same = device({ mac: "02:00:00:00:aa:01" });
    await loadDevice(same, saved.bytes);
    expect(describeState(same)).toEqual(describeState(src));
  });

  it("through the engine: a target host that forbids trust is refused in the handshake; the source runs on", async () => {
    const { vm, driver } = await sourceVm({ deviceOptions: { trust: true } });
    const rec = new Recorder();
    rec.attach(driver, "src");
    await vm.start();
    await until(() => rec.txPosted.length > 20, "source traffic");
    const err = await migrate(vm, {
      plugin: createSriovNicPlugin({ caps: { allowTrust: false } }),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect(err).toMatchObject({ phase: "handshake", rolledBack: true });
    expect((err as Error).message).toMatch(/trusted/);
    // Refused before anything stopped: the VF never left RUNNING and its guest keeps going.
    expect(rec.transitions).toEqual([]);
    expect(driver.getState()).toBe(MigState.RUNNING);
    const posted = rec.txPosted.length;
    await until(() => rec.txPosted.length > posted + 20, "source traffic after the refusal");
  });
});
