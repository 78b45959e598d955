import "reflect-metadata";
import { type DependencyContainer, Lifecycle, container as rootContainer } from "tsyringe";
import type { Clock } from "./contract/device-context.js";
import { PluginRegistry } from "./contract/plugin-registry.js";
import type { VendorPlugin } from "./contract/vendor-plugin.js";
import { SystemClock } from "./di/system-clock.js";
import { TOKENS } from "./di/tokens.js";

/** Options for {@link createHost}. */
export interface HostOptions {
  /** Host name for logs and statistics. */
  readonly name: string;
  /** Plugins to register on this host (each validated). */
  readonly plugins?: readonly VendorPlugin[];
  /** Clock for this host; the system clock by default. */
  readonly clock?: Clock;
  /** Parent container; tsyringe's global container by default. */
  readonly parent?: DependencyContainer;
}

/** One simulated host: its own DI container, plugin registry and clock. */
export interface MdevHost {
  /** Host name. */
  readonly name: string;
  /** The host's child container; per-host services resolve here. */
  readonly container: DependencyContainer;
  /** The host's plugin registry. */
  readonly plugins: PluginRegistry;
  /** The host's clock. */
  readonly clock: Clock;
}

/**
 * Builds one tsyringe child container per simulated host, so a source and a target in
 * the same process never share a registry or any other per-host service. Services are
 * registered ContainerScoped: `@singleton()` would be shared across hosts.
 */
export function createHost(options: HostOptions): MdevHost {
  const container = (options.parent ?? rootContainer).createChildContainer();
  container.register(TOKENS.HostName, { useValue: options.name });
  container.register(TOKENS.Clock, { useValue: options.clock ?? new SystemClock() });
  container.register(
    TOKENS.PluginRegistry,
    { useClass: PluginRegistry },
    { lifecycle: Lifecycle.ContainerScoped },
  );
  const plugins = container.resolve<PluginRegistry>(TOKENS.PluginRegistry);
  for (const plugin of options.plugins ?? []) plugins.register(plugin);
  return { name: options.name, container, plugins, clock: container.resolve<Clock>(TOKENS.Clock) };
}
