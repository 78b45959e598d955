/** The device's state as plain data: what tools and the conformance suite compare. */
import { MdevError, type VendorDriver } from "@mdevkit/core";
import type { DeviceState } from "./device.js";
import { __PascalName__Driver } from "./driver.js";

/**
 * The migrated state of `driver` as a plain object. Two devices that describe equal
 * behave identically. Everything the device has is migrated and deterministic, so no
 * field is volatile; a device with host-side counters would leave them out here.
 * @throws MdevError EINVAL when `driver` is not one of this plugin's drivers.
 */
export function describeState(driver: VendorDriver): DeviceState {
  if (!(driver instanceof __PascalName__Driver)) {
    throw new MdevError("EINVAL", "describeState was given another plugin's driver");
  }
  return driver.snapshot();
}
