/**
 * The plugin manifest: what the registry validates and the engine uses to create
 * devices and to judge, during the handshake, whether a source device can land here.
 */
import type { VendorPlugin } from "@mdevkit/core";
import { checkCompatible } from "./compatibility.js";
import { describeState } from "./describe.js";
import { MTTY_DEVICE_TYPES } from "./device-types.js";
import { MTTY_MIGRATION_FLAGS, MttyDriver } from "./mtty-driver.js";

/** Plugin version; kept equal to package.json's (the manifest must not read files at import). */
export const MTTY_PLUGIN_VERSION = "0.1.0";

/** The mtty plugin: register it with a host's `PluginRegistry`. */
export const mttyPlugin: VendorPlugin = {
  name: "mtty",
  version: MTTY_PLUGIN_VERSION,
  engine: ">=0.1.0 <1",
  deviceTypes: MTTY_DEVICE_TYPES.map(({ name, description }) => ({ name, description })),
  migrationFlags: MTTY_MIGRATION_FLAGS,
  dirtyTracking: ["dma-logging"],
  checkCompatible,
  create: (ctx) => new MttyDriver(ctx),
  // Tools (the CLI's reports, end-to-end tests) compare source and target devices with this.
  describeState: (driver) => ({ ...describeState(driver as MttyDriver) }),
};
