import type { PluginRegistry } from "../contract/plugin-registry.js";
import type { Errno } from "../errors/errno.js";
import type { HandshakeBody } from "../stream/records.js";
import { parseVmConfig, type VmConfig } from "../vm/vm-config.js";

/** Why a HANDSHAKE's VM cannot be received here. */
export interface HandshakeRefusal {
  readonly accepted: false;
  /** One line: what is wrong, naming the device where one is at fault. */
  readonly reason: string;
  /**
   * What kind of wrong: EINVAL (the config), EPROTO (manifest and config disagree, or a
   * device is incompatible), ENODEV (no plugin or device type here). A socket target
   * answers REJECT whatever it is (its source reports ECONNREFUSED) and fails its session
   * with this code; a file restore reports it too.
   */
  readonly code: Errno;
  /** Set when a device's plugin is not loaded here: what a caller can tell the user to load. */
  readonly missingPlugin?: { readonly slot: string; readonly plugin: string };
}

/** The verdict on a HANDSHAKE: the VM config to build, or why the VM is refused. */
export type HandshakeVerdict =
  | { readonly accepted: true; readonly config: VmConfig }
  | HandshakeRefusal;

/**
 * Judges a HANDSHAKE against this host's plugins before anything is allocated: the VM
 * config must parse, the manifest must match it device by device, and each device's
 * plugin here must offer its type and find the source's compatibility data acceptable.
 */
export function checkHandshake(record: HandshakeBody, plugins: PluginRegistry): HandshakeVerdict {
  const refuse = (
    code: Errno,
    reason: string,
    missingPlugin?: HandshakeRefusal["missingPlugin"],
  ): HandshakeRefusal => ({
    accepted: false,
    reason,
    code,
    ...(missingPlugin ? { missingPlugin } : {}),
  });
  let config: VmConfig;
  try {
    config = parseVmConfig(
      JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(record.config)),
    );
  } catch (err) {
    return refuse(
      "EINVAL",
      `VM config is not acceptable: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (record.devices.length !== config.devices.length) {
    return refuse(
      "EPROTO",
      `manifest lists ${record.devices.length} devices, the VM config ${config.devices.length}`,
    );
  }
  for (const m of record.devices) {
    const dev = config.devices[m.slot];
    if (dev === undefined || dev.plugin !== m.plugin || dev.deviceType !== m.deviceType) {
      return refuse(
        "EPROTO",
        `manifest device ${m.slot} (${m.plugin} ${m.deviceType}) does not match the VM config`,
      );
    }
    const plugin = plugins.find(m.plugin);
    if (plugin === undefined) {
      return refuse("ENODEV", `device ${dev.slot}: plugin "${m.plugin}" is not installed here`, {
        slot: dev.slot,
        plugin: m.plugin,
      });
    }
    if (!plugin.deviceTypes.some((t) => t.name === m.deviceType)) {
      return refuse(
        "ENODEV",
        `device ${dev.slot}: plugin "${m.plugin}" here offers no device type "${m.deviceType}"`,
      );
    }
    const verdict = plugin.checkCompatible({
      plugin: m.plugin,
      pluginVersion: m.pluginVersion,
      deviceType: m.deviceType,
      compatibility: m.compat,
    });
    if (!verdict.compatible)
      return refuse(
        "EPROTO",
        `device ${dev.slot} (${m.plugin} ${m.pluginVersion}) is not compatible: ${verdict.reason}`,
      );
  }
  return { accepted: true, config };
}
