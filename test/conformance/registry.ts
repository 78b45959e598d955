/**
 * Every plugin in plugins/, with the hooks the suite needs: the cross-plugin matrix.
 * `mdevkit new-plugin NAME` adds a plugin here (its two imports, one entry below and a
 * devDependency in package.json); test/registry.test.ts fails for a workspace under
 * plugins/ that is missing.
 */
import {
  type ConformanceOptions,
  describeVendorDriverConformance,
  type SuiteApi,
} from "@mdevkit/conformance";
import type { VendorDriver, VendorPlugin } from "@mdevkit/core";
import { accelPlugin } from "@mdevkit/plugin-accel";
import { accelConformance } from "@mdevkit/plugin-accel/conformance";
import { gvtgPlugin } from "@mdevkit/plugin-gvt-g";
import { gvtgConformance } from "@mdevkit/plugin-gvt-g/conformance";
import { mttyPlugin } from "@mdevkit/plugin-mtty";
import { mttyConformanceOptions } from "@mdevkit/plugin-mtty/conformance";
import { sriovNicPlugin } from "@mdevkit/plugin-sriov-nic";
import { sriovNicConformanceOptions } from "@mdevkit/plugin-sriov-nic/conformance";

/** One plugin of the matrix: the manifest and the conformance options it ships. */
export interface PluginEntry<D extends VendorDriver = VendorDriver> {
  readonly plugin: VendorPlugin;
  readonly options: ConformanceOptions<D>;
}

/** The matrix, keyed by the plugin's name (what `MDEVKIT_PLUGINS` lists). */
export const PLUGINS: Readonly<Record<string, PluginEntry>> = {
  mtty: { plugin: mttyPlugin, options: mttyConformanceOptions },
  accel: { plugin: accelPlugin, options: accelConformance },
  "gvt-g": { plugin: gvtgPlugin, options: gvtgConformance },
  "sriov-nic": { plugin: sriovNicPlugin, options: sriovNicConformanceOptions },
  // mdevkit new-plugin: entries above this line
};

/**
 * The entries `MDEVKIT_PLUGINS` selects (comma-separated names; all when unset), in the
 * order given. An unknown name is an error, not a silently empty run.
 */
export function selectedPlugins(
  env: string | undefined = process.env["MDEVKIT_PLUGINS"],
): [string, PluginEntry][] {
  if (env === undefined || env.trim() === "") return Object.entries(PLUGINS);
  const names = env
    .split(",")
    .map((n) => n.trim())
    .filter((n) => n !== "");
  const unknown = names.filter((n) => !(n in PLUGINS));
  if (unknown.length > 0) {
    throw new Error(
      `MDEVKIT_PLUGINS names unknown plugin(s) ${unknown.join(", ")}; known: ${Object.keys(PLUGINS).join(", ")}`,
    );
  }
  return names.map((n) => [n, PLUGINS[n]!]);
}

/**
 * Registers one conformance suite per selected plugin with vitest (or with `api`, which
 * is how the default tests check the matrix without running it).
 */
export function registerMatrix(
  env: string | undefined = process.env["MDEVKIT_PLUGINS"],
  api?: SuiteApi,
): void {
  for (const [, entry] of selectedPlugins(env)) {
    describeVendorDriverConformance(entry.plugin, entry.options, api);
  }
}
