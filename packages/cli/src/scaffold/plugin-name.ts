import { MdevError } from "@mdevkit/core";

/** A plugin name and the identifiers the templates derive from it. */
export interface PluginNames {
  /** The name as given: `demo-dev`. Also the plugin's `VendorPlugin.name`. */
  readonly name: string;
  /** The npm package: `@mdevkit/plugin-demo-dev`. */
  readonly packageName: string;
  /** For class names: `DemoDev` (`DemoDevDriver`). */
  readonly pascal: string;
  /** For value names: `demoDev` (`demoDevPlugin`). */
  readonly camel: string;
}

/** Longest accepted name; keeps package, device type and identifiers readable. */
export const MAX_PLUGIN_NAME_LENGTH = 50;

/**
 * Lowercase letters, digits and single hyphens, starting with a letter. Narrower than npm
 * allows on purpose: the name also becomes TypeScript identifiers and device type names,
 * so `.`, `_` and a leading digit are refused rather than mangled.
 */
const NAME_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/** Identifiers the templates import; a derived class name must not shadow them. */
const TEMPLATE_IMPORTS = new Set(["AbstractVendorDriver", "VendorDriver"]);

/**
 * Validates `name` and derives the package name and identifiers.
 * @throws MdevError EINVAL with a one-line reason naming the rule.
 */
export function pluginNames(name: string): PluginNames {
  if (name.startsWith("@") || name.includes("/")) {
    throw new MdevError(
      "EINVAL",
      `invalid plugin name "${name}": give the short name (e.g. "my-dev" for @mdevkit/plugin-my-dev)`,
    );
  }
  if (name.length > MAX_PLUGIN_NAME_LENGTH || !NAME_PATTERN.test(name)) {
    throw new MdevError(
      "EINVAL",
      `invalid plugin name "${name}": use lowercase letters, digits and single hyphens, starting with a letter, at most ${MAX_PLUGIN_NAME_LENGTH} characters (e.g. "my-dev")`,
    );
  }
  const parts = name.split("-");
  const pascal = parts.map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join("");
  if (TEMPLATE_IMPORTS.has(`${pascal}Driver`)) {
    throw new MdevError(
      "EINVAL",
      `invalid plugin name "${name}": its driver class ${pascal}Driver would clash with core's`,
    );
  }
  return {
    name,
    packageName: `@mdevkit/plugin-${name}`,
    pascal,
    camel: pascal.charAt(0).toLowerCase() + pascal.slice(1),
  };
}
