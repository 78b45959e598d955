import { MigFlags, type VendorPlugin } from "../../src/index.js";
import { ToyDriver } from "./toy-driver.js";

/** A valid toy plugin manifest; `overrides` may break any field for registry tests. */
export function toyPlugin(
  overrides: Partial<Record<keyof VendorPlugin, unknown>> = {},
): VendorPlugin {
  return {
    name: "toy",
    version: "1.2.3",
    engine: ">=0.1.0 <1",
    deviceTypes: [{ name: "toy-1", description: "one counter" }],
    migrationFlags: MigFlags.STOP_COPY | MigFlags.PRE_COPY,
    dirtyTracking: ["dma-logging"],
    checkCompatible: () => ({ compatible: true }),
    create: () => new ToyDriver(),
    ...overrides,
  } as VendorPlugin;
}
