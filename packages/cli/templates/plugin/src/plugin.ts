/**
 * The plugin manifest: what the registry validates and the engine uses to create devices
 * and to judge, during the handshake, whether a source device can land here.
 */
import type { VendorPlugin } from "@mdevkit/core";
import { checkCompatible, PLUGIN_NAME } from "./compatibility.js";
import { describeState } from "./describe.js";
import { DEVICE_TYPES } from "./device-types.js";
import { __PascalName__Driver, MIGRATION_FLAGS } from "./driver.js";

/** Plugin version; kept equal to package.json's (a manifest must not read files at import). */
export const PLUGIN_VERSION = "0.1.0";

/** The plugin: register it with a host's `PluginRegistry`. */
export const __camelName__Plugin: VendorPlugin = {
  name: PLUGIN_NAME,
  version: PLUGIN_VERSION,
  engine: ">=0.1.0 <1",
  deviceTypes: DEVICE_TYPES,
  migrationFlags: MIGRATION_FLAGS,
  dirtyTracking: "dma-logging",
  checkCompatible,
  create: (ctx) => new __PascalName__Driver(ctx),
  describeState: (driver) => ({ ...describeState(driver) }),
};
