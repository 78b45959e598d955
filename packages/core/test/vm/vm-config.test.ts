import { describe, expect, it } from "vitest";
import { parseVmConfig } from "../../src/index.js";

describe("VM config", () => {
  it("refuses a misspelled top-level field instead of running with the default", () => {
    expect(() => parseVmConfig({ memoryMiB: 64, initalFill: 0 })).toThrow(
      /EINVAL: invalid VM config: config: Unrecognized key: "initalFill"/,
    );
  });

  it("refuses unknown fields in a device and in a workload", () => {
    expect(() =>
      parseVmConfig({
        memoryMiB: 64,
        devices: [{ slot: "00:02.0", plugin: "mtty", deviceType: "mtty-1", option: {} }],
      }),
    ).toThrow(/devices\.0: Unrecognized key: "option"/);
    expect(() =>
      parseVmConfig({
        memoryMiB: 64,
        workloads: [{ pattern: "uniform", pagesPerSecond: 5, rate: 1 }],
      }),
    ).toThrow(/workloads\.0: Unrecognized key: "rate"/);
  });

  it("takes a device's dirty-tracking choice from the offered names only", () => {
    const device = { slot: "00:02.0", plugin: "p", deviceType: "t" };
    expect(
      parseVmConfig({ memoryMiB: 64, devices: [{ ...device, dirtyTracking: "vendor-bitmap" }] })
        .devices[0]?.dirtyTracking,
    ).toBe("vendor-bitmap");
    expect(() =>
      parseVmConfig({ memoryMiB: 64, devices: [{ ...device, dirtyTracking: "precise" }] }),
    ).toThrow(/devices\.0\.dirtyTracking/);
  });
});
