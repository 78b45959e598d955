import { MdevError, type MdevErrorOptions } from "./mdev-error.js";

/**
 * A save's device names a plugin this process has not loaded, so its state has nowhere to
 * go (ENODEV, as for a device with no driver). The message names the slot and the plugin;
 * a command that knows how plugins are loaded rethrows it with that as `howToLoad`.
 */
export class PluginNotLoadedError extends MdevError {
  /** The device's PCI slot in the saved VM, e.g. `00:05.0`. */
  readonly slot: string;
  /** The plugin the device needs. */
  readonly plugin: string;

  /**
   * @param howToLoad appended after a `;`, e.g. `load it with --plugin SPEC`.
   */
  constructor(slot: string, plugin: string, howToLoad?: string, options?: MdevErrorOptions) {
    super(
      "ENODEV",
      `the save's device ${slot} needs plugin "${plugin}", which is not loaded${howToLoad ? `; ${howToLoad}` : ""}`,
      options,
    );
    this.slot = slot;
    this.plugin = plugin;
  }
}
