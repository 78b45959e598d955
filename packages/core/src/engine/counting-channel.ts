import type { SourceChannel } from "../transport/channel.js";

/**
 * Wraps `inner` so `onWritten(n)` runs once each send settled, with the bytes it carried:
 * progress counts bytes the channel took, not bytes the encoder produced ahead of it (with
 * pipelined batches the encoder leads the wire by a batch or two).
 */
export function countingChannel(
  inner: SourceChannel,
  onWritten: (bytes: number) => void,
): SourceChannel {
  return {
    role: "source",
    peer: inner.peer,
    capabilities: inner.capabilities,
    returnPath: inner.returnPath,
    async send(...args: Parameters<SourceChannel["send"]>) {
      let n = 0;
      for (const f of args[0]) n += f.byteLength;
      await inner.send(...args);
      onWritten(n);
    },
    close: () => inner.close(),
    destroy: (reason) => inner.destroy(reason),
  };
}
