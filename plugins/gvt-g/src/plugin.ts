/**
 * The plugin manifest. Dirty tracking: "iommu-pinned" (the talk's `pinned`, the
 * default: the IOMMU reports every page the vGPU pinned, as KVMGT got from type1) or
 * "vendor-bitmap" (the talk's `precise`: the pages the vGPU actually wrote). A VM
 * config picks one per device with the core `dirtyTracking` field.
 */
import type { VendorPlugin } from "@mdevkit/core";
import { checkCompatible } from "./compatibility.js";
import { describeState } from "./describe.js";
import { GVTG_MIGRATION_FLAGS, GvtgDriver } from "./gvtg-driver.js";
import { VGPU_TYPES } from "./vgpu-types.js";

/** Plugin version; kept equal to package.json's. */
export const GVTG_PLUGIN_VERSION = "0.1.0";

/** The GVT-g plugin: register it with a host's `PluginRegistry`. */
export const gvtgPlugin: VendorPlugin = {
  name: "gvt-g",
  version: GVTG_PLUGIN_VERSION,
  engine: ">=0.1.0 <1",
  deviceTypes: VGPU_TYPES.map(({ name, description }) => ({ name, description })),
  migrationFlags: GVTG_MIGRATION_FLAGS,
  dirtyTracking: ["iommu-pinned", "vendor-bitmap"],
  checkCompatible,
  create: (ctx) => new GvtgDriver(ctx),
  describeState: (driver) => ({ ...describeState(driver as GvtgDriver) }),
};
