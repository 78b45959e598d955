import type { SourceChannel } from "../transport/channel.js";
import { sendsWrapped } from "../transport/sends-wrapped.js";
import type { PeerDeadline } from "./peer-deadline.js";

/** What the deadline says did not happen (see {@link progressWatched}). */
export const NO_SEND_PROGRESS = "took none of the stream's bytes";

/**
 * Wraps the transport `inner` so that `deadline` runs while a send is pending: armed for
 * `ms` as a send starts, re-armed whenever one completes (the transport took its bytes),
 * met once none is pending. A target that stops reading thus ends the migration `ms` after
 * the transport last made progress, whatever the source was sending; waits for answers
 * have deadlines of their own.
 *
 * Wrap the transport itself, beneath any rate limit: waiting for tokens is the source
 * pacing itself, not the peer stalling, so a slow emulated link never counts against it.
 */
export function progressWatched(
  inner: SourceChannel,
  deadline: PeerDeadline,
  ms: number,
): SourceChannel {
  let pending = 0;
  return sendsWrapped(inner, async (frames, signal) => {
    // A send that starts behind a stuck one is no progress: only the first arms.
    if (pending++ === 0) deadline.arm(ms, NO_SEND_PROGRESS);
    try {
      await inner.send(frames, signal);
    } finally {
      if (--pending === 0) deadline.met();
      else deadline.arm(ms, NO_SEND_PROGRESS);
    }
  });
}
