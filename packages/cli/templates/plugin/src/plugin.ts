/**
 * The plugin manifest: what the registry validates and the engine uses to create devices
 * and to judge, during the handshake, whether a source device can land here.
 */
import type { VendorPlugin } from "@mdevkit/core";
import { DEVICE_TYPES, MIGRATION_FLAGS, PLUGIN_NAME, PLUGIN_VERSION } from "./capabilities.js";
import { checkCompatible } from "./compatibility.js";
import { describeState } from "./describe.js";
import { __PascalName__Driver } from "./driver.js";

/** The plugin: register it with a host's `PluginRegistry`. */
export const __camelName__Plugin: VendorPlugin = {
  name: PLUGIN_NAME,
  version: PLUGIN_VERSION,
  engine: ">=0.1.0 <1",
  deviceTypes: DEVICE_TYPES,
  migrationFlags: MIGRATION_FLAGS,
  dirtyTracking: ["dma-logging"],
  checkCompatible,
  create: (ctx) => new __PascalName__Driver(ctx),
  describeState: (driver) => ({ ...describeState(driver) }),
};
