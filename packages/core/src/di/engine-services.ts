import { inject, injectable } from "tsyringe";
import type { Clock } from "../contract/device-context.js";
import type { PluginRegistry } from "../contract/plugin-registry.js";
import type { MigrationEventSink } from "../engine/migration-events.js";
import type { ChannelFactory } from "./channel-factory.js";
import { TOKENS } from "./tokens.js";

/**
 * What the migration engine takes from its host, resolved from the host's container: swap
 * any of them by registering another implementation under its token before resolving.
 */
@injectable()
export class EngineServices {
  constructor(
    /** Every timing the engine reports is read from this clock. */
    @inject(TOKENS.Clock) readonly clock: Clock,
    /** Plugins the target judges a handshake with and builds devices from. */
    @inject(TOKENS.PluginRegistry) readonly plugins: PluginRegistry,
    /** How channels are opened by URL. */
    @inject(TOKENS.ChannelFactory) readonly channels: ChannelFactory,
    /** Where engine events go. */
    @inject(TOKENS.EventSink) readonly events: MigrationEventSink,
    /** The host's name. */
    @inject(TOKENS.HostName) readonly hostName: string,
  ) {}

  /** The clock's reading in milliseconds (fractional). */
  nowMs(): number {
    return Number(this.clock.nowNs()) / 1e6;
  }
}
