import { type DependencyContainer, Lifecycle, container as rootContainer } from "tsyringe";
import type { Clock } from "./contract/device-context.js";
import { PluginRegistry } from "./contract/plugin-registry.js";
import type { VendorPlugin } from "./contract/vendor-plugin.js";
import { type ChannelFactory, UrlChannelFactory } from "./di/channel-factory.js";
import { EngineServices } from "./di/engine-services.js";
import { SystemClock } from "./di/system-clock.js";
import { TOKENS } from "./di/tokens.js";
import { type MigrationEventSink, NullEventSink } from "./engine/migration-events.js";

/** Options for {@link createHost}. */
export interface HostOptions {
  /** Host name for logs and statistics. */
  readonly name: string;
  /** Plugins to register on this host (each validated). */
  readonly plugins?: readonly VendorPlugin[];
  /** Clock for this host; the system clock by default. */
  readonly clock?: Clock;
  /** Where this host's engine events go; dropped by default. */
  readonly events?: MigrationEventSink;
  /** How this host opens channels by URL; the real transports by default. */
  readonly channels?: ChannelFactory;
  /** Parent container; tsyringe's global container by default. */
  readonly parent?: DependencyContainer;
}

/** One simulated host: its own DI container, plugin registry and clock. */
export interface MdevHost {
  /** Host name. */
  readonly name: string;
  /**
   * The host's child container; per-host services resolve here. Registering another
   * implementation under a {@link TOKENS} token (before a migration starts) swaps it.
   */
  readonly container: DependencyContainer;
  /** The host's plugin registry. */
  readonly plugins: PluginRegistry;
  /** The host's clock (resolved from the container, so a swapped clock shows here too). */
  readonly clock: Clock;
}

/**
 * Builds one tsyringe child container per simulated host, so a source and a target in
 * the same process never share a registry or any other per-host service. Defaults are
 * registered ContainerScoped (`@singleton()` would share one instance across hosts); the
 * engine resolves its collaborators ({@link EngineServices}) from here.
 */
export function createHost(options: HostOptions): MdevHost {
  const container = (options.parent ?? rootContainer).createChildContainer();
  const scoped = { lifecycle: Lifecycle.ContainerScoped } as const;
  container.register(TOKENS.HostName, { useValue: options.name });
  if (options.clock) container.register(TOKENS.Clock, { useValue: options.clock });
  else container.register(TOKENS.Clock, { useClass: SystemClock }, scoped);
  if (options.events) container.register(TOKENS.EventSink, { useValue: options.events });
  else container.register(TOKENS.EventSink, { useClass: NullEventSink }, scoped);
  if (options.channels) container.register(TOKENS.ChannelFactory, { useValue: options.channels });
  else container.register(TOKENS.ChannelFactory, { useClass: UrlChannelFactory }, scoped);
  container.register(TOKENS.PluginRegistry, { useClass: PluginRegistry }, scoped);
  container.register(EngineServices, { useClass: EngineServices });
  const plugins = container.resolve<PluginRegistry>(TOKENS.PluginRegistry);
  for (const plugin of options.plugins ?? []) plugins.register(plugin);
  return {
    name: options.name,
    container,
    plugins,
    get clock(): Clock {
      return container.resolve<Clock>(TOKENS.Clock);
    },
  };
}
