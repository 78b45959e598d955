import type { SourceChannel } from "../transport/channel.js";
import { sendsWrapped } from "../transport/sends-wrapped.js";

/**
 * Wraps `inner` so `onWritten(n)` runs once each send settled, with the bytes it carried:
 * progress counts bytes the channel took, not bytes the encoder produced ahead of it (with
 * pipelined batches the encoder leads the wire by a batch or two).
 */
export function countingChannel(
  inner: SourceChannel,
  onWritten: (bytes: number) => void,
): SourceChannel {
  return sendsWrapped(inner, async (frames, signal) => {
    let n = 0;
    for (const f of frames) n += f.byteLength;
    await inner.send(frames, signal);
    onWritten(n);
  });
}
