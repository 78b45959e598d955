/**
 * Transports of the migration stream: a {@link SourceChannel}/{@link TargetChannel} pair
 * over TCP, UNIX sockets, TLS (mutual certificates or PSK), a save file, or memory; plus a
 * token-bucket rate limiter.
 * @module
 */
export {
  type ChannelBase,
  type ChannelCapabilities,
  type ChannelListener,
  type DuplexSourceChannel,
  type DuplexTargetChannel,
  hasReturnPath,
  type ReturnPathReader,
  type ReturnPathWriter,
  type SourceChannel,
  type TargetChannel,
  type TransportKind,
} from "./channel.js";
export {
  type ChannelAddress,
  channelUrlSchema,
  formatChannelUrl,
  parseChannelUrl,
} from "./channel-url.js";
export { type ChannelOptions, connect, listen, openRestore } from "./connect.js";
export { FileSourceChannel, FileTargetChannel } from "./file-channel.js";
export { createMemoryChannelPair } from "./memory-channel.js";
export {
  connectTcp,
  connectUnix,
  DEFAULT_LISTEN_HOST,
  listenTcp,
  listenUnix,
  type NetEndpointOptions,
} from "./net-transport.js";
export { rateLimited, TokenBucket } from "./rate-limiter.js";
export {
  connectTls,
  listenTls,
  PSK_CIPHERS,
  type TlsAuth,
  type TlsCertificateAuth,
  type TlsPskAuth,
} from "./tls-transport.js";
export { TransportError } from "./transport-error.js";
