/**
 * The plugin manifest. {@link createSriovNicPlugin} builds one for a host whose PF has
 * particular capabilities (a target that must refuse what it cannot provide); the
 * default {@link sriovNicPlugin} has a full 82576-like PF.
 */
import type { VendorPlugin } from "@mdevkit/core";
import {
  DEFAULT_PF_CAPABILITIES,
  makeCheckCompatible,
  SRIOV_NIC_PLUGIN_NAME,
} from "./compatibility.js";
import { describeState } from "./describe.js";
import { SRIOV_NIC_DEVICE_TYPES } from "./device-types.js";
import type { PfCapabilities } from "./pf-policy.js";
import { SRIOV_NIC_MIGRATION_FLAGS, SriovNicDriver } from "./sriov-nic-driver.js";

/** Plugin version; kept equal to package.json's. */
export const SRIOV_NIC_PLUGIN_VERSION = "0.1.0";

/** Host-level settings of a plugin instance. */
export interface SriovNicPluginOptions {
  /** What this host's PF offers its VFs (the defaults: 2 queue pairs, every feature, trust allowed). */
  readonly caps?: Partial<PfCapabilities>;
}

/** A sriov-nic plugin for a host whose PF has `options.caps`. */
export function createSriovNicPlugin(options: SriovNicPluginOptions = {}): VendorPlugin {
  const caps: PfCapabilities = { ...DEFAULT_PF_CAPABILITIES, ...options.caps };
  return {
    name: SRIOV_NIC_PLUGIN_NAME,
    version: SRIOV_NIC_PLUGIN_VERSION,
    engine: ">=0.1.0 <1",
    deviceTypes: SRIOV_NIC_DEVICE_TYPES,
    migrationFlags: SRIOV_NIC_MIGRATION_FLAGS,
    // Device-side DMA logging, as mlx5's firmware page tracker; nothing else.
    dirtyTracking: ["dma-logging"],
    checkCompatible: makeCheckCompatible(caps),
    create: (ctx) => new SriovNicDriver(ctx, caps),
    describeState: (driver) => describeState(driver as SriovNicDriver),
  };
}

/** The plugin with a default host PF: register it with a host's `PluginRegistry`. */
export const sriovNicPlugin: VendorPlugin = createSriovNicPlugin();
