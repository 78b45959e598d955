import { pathToFileURL } from "node:url";
import { errnoOf, loadedCoreCopies, MdevError, type VendorPlugin } from "@mdevkit/core";
import { checkCoreCopies, otherCoreCopies } from "./core-copies.js";
import { resolvePluginModule } from "./plugin-module.js";
import { BUILTIN_PLUGINS } from "./plugins.js";

/** Options of {@link loadPlugins}. */
export interface LoadPluginsOptions {
  /** Where relative paths and package names resolve from; `process.cwd()` by default. */
  readonly cwd?: string;
  /** Where warnings go (one line each, no newline); stderr as `mdevkit: …` by default. */
  readonly warn?: (line: string) => void;
}

/** Whether `value` looks like a `VendorPlugin` manifest (for a hint, not a validation). */
function looksLikePlugin(value: unknown): boolean {
  const v = value as Partial<VendorPlugin> | null;
  return (
    typeof v === "object" &&
    v !== null &&
    typeof v.name === "string" &&
    typeof v.create === "function" &&
    Array.isArray(v.deviceTypes)
  );
}

/** The first line of an error's message: a loader's error may carry a hint below. */
function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
}

/**
 * Loads extra plugins (`--plugin`): each spec is a module file, a package directory
 * (its package.json's `exports` or `main`) or a package name found in `node_modules`
 * from the current directory up, and the module must export a `VendorPlugin` as
 * `default` or as `plugin`. The registry validates them. A module that brings its own
 * copy of `@mdevkit/core` is warned about, or refused when that copy's version does not
 * match the command's.
 * @throws MdevError ENOENT (nothing to load there), EINVAL (no plugin export, a module
 *   that fails as it loads, an incompatible `@mdevkit/core`), one line naming the spec.
 */
export async function loadPlugins(
  specs: readonly string[],
  options: LoadPluginsOptions = {},
): Promise<VendorPlugin[]> {
  const cwd = options.cwd ?? process.cwd();
  const warn = options.warn ?? ((line: string) => process.stderr.write(`mdevkit: ${line}\n`));
  const loaded: VendorPlugin[] = [];
  for (const spec of specs) {
    const file = resolvePluginModule(spec, cwd);
    const copiesBefore = loadedCoreCopies().length;
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (err) {
      // Not found is ENOENT; a module that is there but fails as it loads (a syntax error, a
      // throw at the top level) is a bad plugin, which a vendor must not read as a wrong path.
      const notFound = (err as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND";
      throw new MdevError(
        notFound ? "ENOENT" : errnoOf(err, "EINVAL"),
        `cannot load plugin module ${spec}: ${firstLine(err)}`,
        { cause: err },
      );
    }
    const warning = checkCoreCopies(spec, otherCoreCopies(file, copiesBefore));
    if (warning !== undefined) warn(warning);
    const plugin = (mod.default ?? mod.plugin) as VendorPlugin | undefined;
    if (plugin === undefined) {
      const named = Object.keys(mod).filter((k) => looksLikePlugin(mod[k]));
      const hint =
        named.length === 1 ? ` (add \`export { ${named[0]} as default }\` to its entry)` : "";
      throw new MdevError(
        "EINVAL",
        `plugin module ${spec} exports neither default nor plugin${hint}`,
      );
    }
    loaded.push(plugin);
  }
  return [...BUILTIN_PLUGINS, ...loaded];
}
