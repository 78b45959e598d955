import type { MigFlagSet } from "../fsm/mig-flags.js";
import type { DeviceContext } from "./device-context.js";
import type { DirtyTrackingMethod, VendorDriver } from "./vendor-driver.js";

/** A device type a plugin can instantiate (like an mdev type, e.g. `"i915-GVTg_V5_4"`). */
export interface DeviceTypeInfo {
  /** Identifier used in VM configs and the stream's device manifest. */
  readonly name: string;
  /** One line for humans. */
  readonly description?: string;
  /**
   * Dirty-tracking methods devices of this type offer, first the default; the plugin's
   * {@link VendorPlugin.dirtyTracking} when absent. Must be among the plugin's.
   */
  readonly dirtyTracking?: readonly DirtyTrackingMethod[];
}

/** What the source says about one of its devices in the handshake. */
export interface SourceDeviceInfo {
  /** Plugin name on the source. */
  readonly plugin: string;
  /** Plugin version on the source (semver). */
  readonly pluginVersion: string;
  /** Device type on the source. */
  readonly deviceType: string;
  /** The source driver's {@link VendorDriver.compatibilityData}. */
  readonly compatibility: Uint8Array;
}

/** A plugin's answer to whether it can load a device described by {@link SourceDeviceInfo}. */
export type CompatibilityVerdict =
  | { readonly compatible: true }
  | { readonly compatible: false; readonly reason: string };

/**
 * A vendor plugin: the manifest the registry validates, plus the factory for drivers.
 * Everything but the two functions is data, checked with zod at registration.
 */
export interface VendorPlugin {
  /** Unique plugin name, npm-style (`"gvt-g"`, `"@acme/foo"`). */
  readonly name: string;
  /** Plugin version (semver). */
  readonly version: string;
  /** Semver range of mdevkit engine versions the plugin works with. */
  readonly engine: string;
  /** Device types the plugin offers; at least one, unique names. */
  readonly deviceTypes: readonly DeviceTypeInfo[];
  /** Migration capability flags every device of this plugin declares (a legal set). */
  readonly migrationFlags: MigFlagSet;
  /**
   * How devices of this plugin can report the pages they dirty: one or more methods, the
   * first the default. A VM config picks one per device (its `dirtyTracking` field).
   */
  readonly dirtyTracking: readonly DirtyTrackingMethod[];
  /**
   * Judges, on the target, whether a device described by the source can be loaded here.
   * Called during the handshake, before the source stops anything.
   */
  checkCompatible(source: SourceDeviceInfo): CompatibilityVerdict;
  /** Creates a driver for one device instance wired to `ctx`. */
  create(ctx: DeviceContext): VendorDriver | Promise<VendorDriver>;
  /**
   * Optional: a plain, JSON-serialisable description of a driver's device state, without
   * host-only or volatile values, so tools can show and compare source and target state.
   */
  describeState?(driver: VendorDriver): Record<string, unknown>;
}
