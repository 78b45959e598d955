/**
 * Every plugin in plugins/, with the hooks the suite needs. Adding a plugin is one line
 * below (plus its hooks file in ./plugins/ and a devDependency in package.json).
 */
import type { ConformanceOptions } from "@mdevkit/conformance";
import type { VendorDriver, VendorPlugin } from "@mdevkit/core";
import { mtty } from "./plugins/mtty.js";

/** One plugin of the matrix: the manifest and its conformance options. */
export interface PluginEntry<D extends VendorDriver = VendorDriver> {
  readonly plugin: VendorPlugin;
  readonly options: ConformanceOptions<D>;
}

/** The matrix, keyed by the name used in `MDEVKIT_PLUGINS`. */
export const PLUGINS: Readonly<Record<string, PluginEntry>> = {
  mtty,
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
