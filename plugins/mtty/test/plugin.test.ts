import { readFileSync } from "node:fs";
import { FakeDma, fakeDeviceContext } from "@mdevkit/conformance";
import { createHost, MigFlags, PluginRegistry, type SourceDeviceInfo } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import { encodeCompatibility, MTTY_PLUGIN_VERSION, MttyDriver, mttyPlugin } from "../src/index.js";
import { CountingIrq, makeDevice } from "./helpers.js";

const source = (over: Partial<SourceDeviceInfo> = {}): SourceDeviceInfo => ({
  plugin: "mtty",
  pluginVersion: "0.1.0",
  deviceType: "mtty-2",
  compatibility: encodeCompatibility(2),
  ...over,
});

describe("mttyPlugin manifest", () => {
  it("registers with a host and declares what the brief says", () => {
    const host = createHost({ name: "src", plugins: [mttyPlugin] });
    expect(host.plugins.resolve("mtty", "mtty-4")).toBe(mttyPlugin);
    expect(new PluginRegistry().register(mttyPlugin).list()).toEqual([mttyPlugin]);
    expect(mttyPlugin.migrationFlags).toBe(MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY);
    expect(mttyPlugin.dirtyTracking).toEqual(["dma-logging"]);
    expect(mttyPlugin.deviceTypes.map((t) => t.name)).toEqual(["mtty-1", "mtty-2", "mtty-4"]);
  });

  it("keeps its version in step with package.json", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    expect(mttyPlugin.version).toBe(pkg.version);
    expect(MTTY_PLUGIN_VERSION).toBe(pkg.version);
  });

  it("creates a driver per device type with matching flags and port count", async () => {
    for (const [type, ports] of [
      ["mtty-1", 1],
      ["mtty-2", 2],
      ["mtty-4", 4],
    ] as const) {
      const driver = await mttyPlugin.create(
        fakeDeviceContext(mttyPlugin, {
          deviceType: type,
          dma: new FakeDma(4096),
          irq: new CountingIrq(),
          slot: "00:04.0",
        }),
      );
      expect(driver).toBeInstanceOf(MttyDriver);
      expect((driver as MttyDriver).portCount).toBe(ports);
      expect(driver.migrationFlags).toBe(mttyPlugin.migrationFlags);
      expect(driver.compatibilityData()).toEqual(encodeCompatibility(ports));
    }
  });

  it("refuses unknown device types and options", () => {
    expect(() => makeDevice("mtty-3")).toThrow(/ENODEV: mtty has no device type "mtty-3"/);
    expect(() => makeDevice("mtty-1", 1, { baud: 9600 })).toThrow(
      /EINVAL: mtty takes no device options, got: baud/,
    );
  });
});

describe("checkCompatible", () => {
  it("accepts its own devices", () => {
    for (const type of ["mtty-1", "mtty-2", "mtty-4"]) {
      const { driver } = makeDevice(type);
      expect(
        mttyPlugin.checkCompatible(
          source({ deviceType: type, compatibility: driver.compatibilityData() }),
        ),
      ).toEqual({ compatible: true });
    }
  });

  const refusals: [string, Partial<SourceDeviceInfo>, RegExp][] = [
    [
      "a different port count",
      { compatibility: encodeCompatibility(4) },
      /source device has 4 ports, a "mtty-2" here has 2/,
    ],
    [
      "an unknown stream version",
      { compatibility: Uint8Array.of(2, 0, 0, 0, 2, 0, 0, 0) },
      /stream version 2\.0, this plugin reads only 1\.0/,
    ],
    [
      "a malformed blob",
      { compatibility: Uint8Array.of(1, 0) },
      /compatibility data is 2 bytes, expected 8/,
    ],
    ["an unknown device type", { deviceType: "mtty-8" }, /unknown device type "mtty-8"/],
    ["another plugin's device", { plugin: "gvt-g" }, /belongs to plugin "gvt-g"/],
  ];
  for (const [name, over, reason] of refusals) {
    it(`refuses ${name} with a clear reason`, () => {
      const verdict = mttyPlugin.checkCompatible(source(over));
      expect(verdict.compatible).toBe(false);
      expect(verdict.compatible ? "" : verdict.reason).toMatch(reason);
    });
  }
});
