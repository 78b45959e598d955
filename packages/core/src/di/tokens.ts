/**
 * Injection tokens. Symbols, not classes, so a host can swap implementations (a virtual
 * clock in tests, a registry prefilled by the CLI) without import cycles.
 */
export const TOKENS = {
  /** The host's {@link PluginRegistry}. */
  PluginRegistry: Symbol("mdevkit.PluginRegistry"),
  /** The host's name (string), used in logs and statistics. */
  HostName: Symbol("mdevkit.HostName"),
  /** The host's {@link Clock}. */
  Clock: Symbol("mdevkit.Clock"),
} as const;
