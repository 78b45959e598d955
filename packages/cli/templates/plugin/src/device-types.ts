/** Device types this plugin offers (like mdev types). Add more here; each gets its own stream. */
import { type DeviceTypeInfo, MdevError } from "@mdevkit/core";

/** Every device type of this plugin. */
export const DEVICE_TYPES: readonly DeviceTypeInfo[] = [
  { name: "__PLUGIN_NAME__-1", description: "Record counter with one DMA ring" },
];

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
