/**
 * What the plugin is and offers: its name and version, its device types (like mdev
 * types) and the migration capabilities every device declares. The manifest
 * (`plugin.ts`) is built from these.
 */
import { type DeviceTypeInfo, MdevError, MigFlags } from "@mdevkit/core";

/** Plugin name, as the manifest declares it and the source's handshake names it. */
export const PLUGIN_NAME = "__PLUGIN_NAME__";

/** Plugin version; kept equal to package.json's (a manifest must not read files at import). */
export const PLUGIN_VERSION = "0.1.0";

/** Every device type of this plugin. Add more here; each gets its own identity. */
export const DEVICE_TYPES: readonly DeviceTypeInfo[] = [
  { name: "__PLUGIN_NAME__-1", description: "Record counter with one DMA ring" },
];

/**
 * Capability flags. The device does no peer-to-peer DMA, so P2P costs nothing to offer;
 * PRE_COPY carries the identity early.
 */
export const MIGRATION_FLAGS = MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY;

/**
 * Checks that `deviceType` is offered here.
 * @throws MdevError ENODEV for any other type.
 */
export function checkDeviceType(deviceType: string): void {
  if (!DEVICE_TYPES.some((t) => t.name === deviceType)) {
    const known = DEVICE_TYPES.map((t) => t.name).join(", ");
    throw new MdevError("ENODEV", `no device type "${deviceType}" here (offers ${known})`);
  }
}
