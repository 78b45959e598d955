import type { SourceChannel } from "./channel.js";

/**
 * `inner` with its sends going through `send` and everything else passed through: the one
 * shape of every wrapper that watches, counts or paces what the source writes.
 */
export function sendsWrapped(
  inner: SourceChannel,
  send: SourceChannel["send"],
  destroy: SourceChannel["destroy"] = (reason) => inner.destroy(reason),
): SourceChannel {
  return {
    role: "source",
    peer: inner.peer,
    capabilities: inner.capabilities,
    returnPath: inner.returnPath,
    send,
    close: () => inner.close(),
    destroy,
  };
}
