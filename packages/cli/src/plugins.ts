import { pathToFileURL } from "node:url";
import { errnoOf, MdevError, type VendorPlugin } from "@mdevkit/core";
import { accelPlugin } from "@mdevkit/plugin-accel";
import { gvtgPlugin } from "@mdevkit/plugin-gvt-g";
import { mttyPlugin } from "@mdevkit/plugin-mtty";
import { sriovNicPlugin } from "@mdevkit/plugin-sriov-nic";

/**
 * Plugins the mdevkit command knows without being told. `mdevkit new-plugin` adds its
 * import above and its entry above the marker line.
 */
export const BUILTIN_PLUGINS: readonly VendorPlugin[] = [
  mttyPlugin,
  accelPlugin,
  gvtgPlugin,
  sriovNicPlugin,
  // mdevkit new-plugin: entries above this line
];

/**
 * Loads extra plugins from module paths or package names (`--plugin`): each module must
 * export a `VendorPlugin` as `default` or as `plugin`. The registry validates them.
 */
export async function loadPlugins(specs: readonly string[]): Promise<VendorPlugin[]> {
  const loaded: VendorPlugin[] = [];
  for (const spec of specs) {
    const target = spec.startsWith(".") || spec.startsWith("/") ? pathToFileURL(spec).href : spec;
    let mod: Record<string, unknown>;
    try {
      mod = (await import(target)) as Record<string, unknown>;
    } catch (err) {
      // Not found is ENOENT; a module that is there but fails as it loads (a syntax error, a
      // throw at the top level) is a bad plugin, which a vendor must not read as a wrong path.
      const notFound = (err as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND";
      throw new MdevError(
        notFound ? "ENOENT" : errnoOf(err, "EINVAL"),
        `cannot load plugin module ${spec}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    const plugin = (mod.default ?? mod.plugin) as VendorPlugin | undefined;
    if (plugin === undefined)
      throw new MdevError("EINVAL", `plugin module ${spec} exports neither default nor plugin`);
    loaded.push(plugin);
  }
  return [...BUILTIN_PLUGINS, ...loaded];
}
