import { MdevError } from "../errors/mdev-error.js";
import type { DirtyTrackingMethod } from "./vendor-driver.js";
import type { VendorPlugin } from "./vendor-plugin.js";

/** The dirty-tracking methods devices of `deviceType` offer, the default first. */
export function offeredDirtyTracking(
  plugin: VendorPlugin,
  deviceType: string,
): readonly DirtyTrackingMethod[] {
  const type = plugin.deviceTypes.find((t) => t.name === deviceType);
  return type?.dirtyTracking ?? plugin.dirtyTracking;
}

/**
 * The method a device will use: `requested` (a VM config's choice) when its plugin and
 * device type offer it, their default when nothing was requested.
 * @throws MdevError EINVAL naming what is offered when `requested` is not.
 */
export function chooseDirtyTracking(
  plugin: VendorPlugin,
  deviceType: string,
  requested: DirtyTrackingMethod | undefined,
): DirtyTrackingMethod {
  const offered = offeredDirtyTracking(plugin, deviceType);
  if (requested === undefined) return offered[0] as DirtyTrackingMethod;
  if (!offered.includes(requested)) {
    throw new MdevError(
      "EINVAL",
      `${plugin.name} ${deviceType} devices track dirty pages by ${offered.join(" or ")}, not ${requested}`,
    );
  }
  return requested;
}
