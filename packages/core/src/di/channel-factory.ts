import type { ChannelListener, SourceChannel, TargetChannel } from "../transport/channel.js";
import { type ChannelOptions, connect, listen, openRestore } from "../transport/connect.js";

/**
 * Opens channels by URL for a host: the engine and the CLI connect, listen and restore
 * through the host's factory, so tests (or another transport) can stand in for sockets.
 */
export interface ChannelFactory {
  /** The source end for `url` (`tcp://`, `unix://`, `tls://`, `file://`). */
  connect(url: string, options?: ChannelOptions): Promise<SourceChannel>;
  /** A listener for incoming migrations at `url`. */
  listen(url: string, options?: ChannelOptions): Promise<ChannelListener>;
  /** The target end of a `file://` save, for restore. */
  openRestore(url: string): TargetChannel;
}

/** The default factory: the real transports of `transport/connect.ts`. */
export class UrlChannelFactory implements ChannelFactory {
  /** {@link connect} from `transport/connect.ts`. */
  connect(url: string, options: ChannelOptions = {}): Promise<SourceChannel> {
    return connect(url, options);
  }

  /** {@link listen} from `transport/connect.ts`. */
  listen(url: string, options: ChannelOptions = {}): Promise<ChannelListener> {
    return listen(url, options);
  }

  /** {@link openRestore} from `transport/connect.ts`. */
  openRestore(url: string): TargetChannel {
    return openRestore(url);
  }
}
