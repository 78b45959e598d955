import type { ChannelListener, SourceChannel, TargetChannel } from "./channel.js";
import { parseChannelUrl } from "./channel-url.js";
import { FileSourceChannel, FileTargetChannel } from "./file-channel.js";
import {
  connectTcp,
  connectUnix,
  DEFAULT_LISTEN_HOST,
  listenTcp,
  listenUnix,
} from "./net-transport.js";
import { connectTls, listenTls, type TlsAuth } from "./tls-transport.js";
import { TransportError } from "./transport-error.js";

/** Options for {@link connect} and {@link listen}. */
export interface ChannelOptions {
  /** Required for `tls://`: how both sides authenticate. */
  readonly tls?: TlsAuth;
}

function needTls(url: string, options: ChannelOptions): TlsAuth {
  if (!options.tls)
    throw new TransportError("EINVAL", url, "tls:// needs credentials (certificate or PSK)");
  return options.tls;
}

/**
 * Opens the source end for a URL: connects to `tcp://`, `unix://`, `tls://` targets, or
 * creates a save file for `file://`.
 */
export async function connect(url: string, options: ChannelOptions = {}): Promise<SourceChannel> {
  const a = parseChannelUrl(url);
  switch (a.kind) {
    case "tcp":
      return connectTcp(a.host, a.port);
    case "tls":
      return connectTls(a.host, a.port, needTls(url, options));
    case "unix":
      return connectUnix(a.path);
    case "file":
      return FileSourceChannel.create(a.path);
  }
}

/**
 * Listens for sources at a URL. A host in the URL is used as given; use
 * `tcp://127.0.0.1:0` for loopback on any free port. `file://` has no listener: use
 * {@link openRestore}.
 */
export async function listen(url: string, options: ChannelOptions = {}): Promise<ChannelListener> {
  const a = parseChannelUrl(url);
  switch (a.kind) {
    case "tcp":
      return listenTcp(a.port, a.host || DEFAULT_LISTEN_HOST);
    case "tls":
      return listenTls(a.port, needTls(url, options), a.host || DEFAULT_LISTEN_HOST);
    case "unix":
      return listenUnix(a.path);
    case "file":
      throw new TransportError(
        "EINVAL",
        url,
        "a file is not listened on; open it with openRestore()",
      );
  }
}

/** Opens the target end of a `file://` save for restore. */
export function openRestore(url: string): TargetChannel {
  const a = parseChannelUrl(url);
  if (a.kind !== "file") throw new TransportError("EINVAL", url, "restore needs a file:// URL");
  return new FileTargetChannel(a.path);
}
