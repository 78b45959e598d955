import semver from "semver";
import { injectable } from "tsyringe";
import { MdevError } from "../errors/mdev-error.js";
import { PluginRegistrationError } from "../errors/plugin-registration-error.js";
import { ENGINE_VERSION } from "../version.js";
import { vendorPluginSchema } from "./plugin-manifest-schema.js";
import type { VendorPlugin } from "./vendor-plugin.js";

/**
 * The plugins one host knows. Registration validates the manifest (zod), the engine
 * range against this engine's version, and refuses a second plugin of the same name.
 */
@injectable()
export class PluginRegistry {
  readonly #plugins = new Map<string, VendorPlugin>();

  /**
   * Adds a plugin.
   * @throws {@link PluginRegistrationError} EINVAL listing every manifest problem, or
   * EEXIST when a plugin of that name is already registered.
   */
  register(plugin: VendorPlugin): this {
    const candidate = plugin as unknown;
    const name =
      typeof candidate === "object" &&
      candidate !== null &&
      typeof (candidate as { name?: unknown }).name === "string"
        ? (candidate as { name: string }).name
        : "<unnamed>";
    const parsed = vendorPluginSchema.safeParse(candidate);
    if (!parsed.success) {
      const problems = parsed.error.issues.map(
        (issue) => `${issue.path.join(".") || "manifest"}: ${issue.message}`,
      );
      throw new PluginRegistrationError(name, problems);
    }
    if (!semver.satisfies(ENGINE_VERSION, plugin.engine, { includePrerelease: true })) {
      throw new PluginRegistrationError(name, [
        `engine: requires ${plugin.engine}, this engine is ${ENGINE_VERSION}`,
      ]);
    }
    if (this.#plugins.has(plugin.name)) {
      throw new PluginRegistrationError(
        name,
        ["a plugin with this name is already registered"],
        "EEXIST",
      );
    }
    this.#plugins.set(plugin.name, plugin);
    return this;
  }

  /** The plugin named `name`, or `undefined`. */
  find(name: string): VendorPlugin | undefined {
    return this.#plugins.get(name);
  }

  /**
   * The plugin named `name` that offers `deviceType`.
   * @throws {@link MdevError} ENOENT naming what is missing.
   */
  resolve(name: string, deviceType?: string): VendorPlugin {
    const plugin = this.#plugins.get(name);
    if (plugin === undefined) {
      const known = [...this.#plugins.keys()].join(", ") || "none";
      throw new MdevError("ENOENT", `no plugin "${name}" is registered (registered: ${known})`);
    }
    if (deviceType !== undefined && !plugin.deviceTypes.some((t) => t.name === deviceType)) {
      throw new MdevError(
        "ENOENT",
        `plugin "${name}" offers no device type "${deviceType}" (offers: ${plugin.deviceTypes.map((t) => t.name).join(", ")})`,
      );
    }
    return plugin;
  }

  /** Registered plugins in registration order. */
  list(): VendorPlugin[] {
    return [...this.#plugins.values()];
  }
}
