// checkHandshake judges a HANDSHAKE with the host's plugins before anything is allocated.
import { describe, expect, it } from "vitest";
import {
  checkHandshake,
  createHost,
  createMemoryChannelPair,
  type HandshakeBody,
  type ManifestDevice,
  MigrationTarget,
  StreamEncoder,
  type VendorPlugin,
} from "../../src/index.js";
import { toyPlugin } from "../helpers/toy-plugin.js";

const CONFIG = {
  name: "vm",
  memoryMiB: 4,
  vcpus: 1,
  devices: [{ slot: "00:05.0", plugin: "toy", deviceType: "toy-1" }],
};

const DEVICE: ManifestDevice = {
  slot: 0,
  plugin: "toy",
  pluginVersion: "1.0.0",
  deviceType: "toy-1",
  compat: new Uint8Array([1]),
};

function handshake(config: unknown = CONFIG, devices = [DEVICE]): HandshakeBody {
  return {
    type: "HANDSHAKE",
    config: new TextEncoder().encode(JSON.stringify(config)),
    devices,
  };
}

function judge(record: HandshakeBody, plugins: VendorPlugin[] = [toyPlugin()]) {
  return checkHandshake(record, createHost({ name: "dst", plugins }).plugins);
}

describe("checkHandshake", () => {
  it("accepts a VM whose every device's plugin is here and compatible, with its config", () => {
    expect(judge(handshake())).toMatchObject({ accepted: true, config: { name: "vm" } });
  });

  it("refuses a config that is not valid JSON", () => {
    const record = { ...handshake(), config: new TextEncoder().encode("{") };
    expect(judge(record)).toMatchObject({
      accepted: false,
      code: "EINVAL",
      reason: expect.stringMatching(/^VM config is not acceptable/),
    });
  });

  it("refuses a config that is not a valid VM config", () => {
    expect(judge(handshake({ name: "vm" }))).toMatchObject({
      accepted: false,
      reason: expect.stringMatching(/^VM config is not acceptable/),
    });
  });

  it("refuses a manifest with another number of devices than the config", () => {
    expect(judge(handshake(CONFIG, []))).toEqual({
      accepted: false,
      code: "EPROTO",
      reason: "manifest lists 0 devices, the VM config 1",
    });
  });

  it("refuses a manifest device that does not match the config's", () => {
    expect(judge(handshake(CONFIG, [{ ...DEVICE, deviceType: "toy-9" }]))).toMatchObject({
      accepted: false,
      code: "EPROTO",
      reason: expect.stringContaining("does not match the VM config"),
    });
  });

  it("refuses a device whose plugin is not installed here, saying which plugin it needs", () => {
    expect(judge(handshake(), [])).toEqual({
      accepted: false,
      code: "ENODEV",
      reason: 'device 00:05.0: plugin "toy" is not installed here',
      missingPlugin: { slot: "00:05.0", plugin: "toy" },
    });
  });

  it("refuses a device type the plugin here does not offer", () => {
    const config = { ...CONFIG, devices: [{ ...CONFIG.devices[0], deviceType: "toy-2" }] };
    expect(judge(handshake(config, [{ ...DEVICE, deviceType: "toy-2" }]))).toEqual({
      accepted: false,
      code: "ENODEV",
      reason: 'device 00:05.0: plugin "toy" here offers no device type "toy-2"',
    });
  });

  it("refuses a device the plugin here finds incompatible, with the plugin's reason", () => {
    const picky: VendorPlugin = {
      ...toyPlugin(),
      checkCompatible: () => ({ compatible: false, reason: "state v2 unknown" }),
    };
    expect(judge(handshake(), [picky])).toEqual({
      accepted: false,
      code: "EPROTO",
      reason: "device 00:05.0 (toy 1.0.0) is not compatible: state v2 unknown",
    });
  });

  it("a socket target answers REJECT and fails its own session with the refusal's code", async () => {
    const { source, target } = createMemoryChannelPair();
    const received = new MigrationTarget(
      createHost({ name: "dst", plugins: [] }),
      target,
    ).receive();
    received.catch(() => {});
    const { type: _, ...body } = handshake();
    await source.send(new StreamEncoder().start(body));
    expect(await source.returnPath?.next()).toMatchObject({
      type: "REJECT",
      reason: 'device 00:05.0: plugin "toy" is not installed here',
    });
    await expect(received).rejects.toMatchObject({
      code: "ENODEV",
      message: 'ENODEV: refused the VM: device 00:05.0: plugin "toy" is not installed here',
    });
  });
});
