/**
 * Injection tokens. Symbols, not classes, so a host can swap implementations (a virtual
 * clock in tests, a registry prefilled by the CLI) without import cycles.
 */
export const TOKENS = {
  /** The host's {@link PluginRegistry}. */
  PluginRegistry: Symbol("mdevkit.PluginRegistry"),
  /** The host's name (string), used in logs and statistics. */
  HostName: Symbol("mdevkit.HostName"),
  /** The host's {@link Clock}: every engine timing is read from it. */
  Clock: Symbol("mdevkit.Clock"),
  /** The host's {@link ChannelFactory}: how the engine connects and listens by URL. */
  ChannelFactory: Symbol("mdevkit.ChannelFactory"),
  /** The host's {@link MigrationEventSink}: where engine events and progress go. */
  EventSink: Symbol("mdevkit.EventSink"),
} as const;
