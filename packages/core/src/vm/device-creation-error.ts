import { detailOf, isMdevError, MdevError } from "../errors/mdev-error.js";
import type { DeviceConfig } from "./vm-config.js";

/**
 * The error of a VM config's device that could not be created — no such plugin or type
 * here, options its plugin refuses, a plugin that threw — naming the device: a plugin
 * knows its options, not which of the VM's devices it was building. Wrapped here, once,
 * so every plugin's refusal reads the same wherever the VM is built (a source, a save, a
 * target answering REJECT). The plugin's code is kept (EIO for a plain throw).
 */
export function deviceCreationError(dev: DeviceConfig, err: unknown): MdevError {
  return new MdevError(
    isMdevError(err) ? err.code : "EIO",
    `device ${dev.slot} (${dev.plugin} ${dev.deviceType}): ${detailOf(err)}`,
    { cause: err },
  );
}
