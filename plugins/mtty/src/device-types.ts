/**
 * Device types, like mtty.c's mdev types "1" (single port) and "2" (dual port), plus a
 * four-port card so the multi-port paths get exercised at a size where bugs show.
 */
import type { DeviceTypeInfo } from "@mdevkit/core";
import { MdevError } from "@mdevkit/core";

/** One mtty device type and its port count. */
export interface MttyDeviceType extends DeviceTypeInfo {
  readonly ports: 1 | 2 | 4;
}

/** Every device type this plugin offers. */
export const MTTY_DEVICE_TYPES: readonly MttyDeviceType[] = [
  { name: "mtty-1", ports: 1, description: "Single-port 16550 serial card" },
  { name: "mtty-2", ports: 2, description: "Dual-port 16550 serial card" },
  { name: "mtty-4", ports: 4, description: "Quad-port 16550 serial card" },
];

/** Port count of `deviceType`, or `undefined` for a type this plugin does not offer. */
export function findPortCount(deviceType: string): number | undefined {
  return MTTY_DEVICE_TYPES.find((t) => t.name === deviceType)?.ports;
}

/**
 * Port count of `deviceType`.
 * @throws MdevError ENODEV for a type this plugin does not offer.
 */
export function portCountOf(deviceType: string): number {
  const ports = findPortCount(deviceType);
  if (ports === undefined) {
    const known = MTTY_DEVICE_TYPES.map((t) => t.name).join(", ");
    throw new MdevError("ENODEV", `mtty has no device type "${deviceType}" (offers ${known})`);
  }
  return ports;
}
