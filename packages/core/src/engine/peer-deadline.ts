import { MdevError } from "../errors/mdev-error.js";
import type { ChannelBase } from "../transport/channel.js";

/** How an expired deadline explains itself: `what` did not happen at `peer` within `ms`. */
export type DeadlineMessage = (what: string, peer: string, ms: number) => string;

/** A target's wording: what did not come from its peer. */
const NOTHING_FROM: DeadlineMessage = (what, peer, ms) =>
  `${what} from ${peer} within ${ms} ms; dropped the connection`;

/**
 * What a session over `channel` waits for from its peer, with a deadline: unless
 * {@link PeerDeadline.met} or a new {@link PeerDeadline.arm} comes within the armed time,
 * the channel is destroyed and {@link PeerDeadline.expired} holds the ETIMEDOUT that
 * explains why the session ended. A peer that connects and sends nothing, half a header or
 * an HTTP request, or that handshakes and then goes silent, thus cannot hold the target
 * (its loading slot, the RAM reserved for its VM); a target that stops reading cannot hold
 * the source (its guest throttled, its dirty logs running).
 */
export class PeerDeadline {
  readonly #channel: Pick<ChannelBase, "peer" | "destroy">;
  readonly #message: DeadlineMessage;
  #timer: NodeJS.Timeout | undefined;
  #armedMs = 0;
  #armedWhat = "";
  #expired: MdevError | undefined;

  /**
   * @param channel what expiry destroys (with the ETIMEDOUT as its reason), and whose peer
   *   the error names.
   * @param message the error's wording (default: `what` did not come from the peer).
   */
  constructor(
    channel: Pick<ChannelBase, "peer" | "destroy">,
    message: DeadlineMessage = NOTHING_FROM,
  ) {
    this.#channel = channel;
    this.#message = message;
  }

  /** (Re)starts the deadline: `ms` from now; `what` names what did not come in time. */
  arm(ms: number, what: string): void {
    // Deadlines are re-armed throughout the bulk pass (each MiB a target receives, each send
    // a source's transport takes): restarting the running timer in place spares a fresh
    // Timeout (and its garbage) each time.
    if (this.#timer !== undefined && this.#armedMs === ms && this.#armedWhat === what) {
      this.#timer.refresh();
      return;
    }
    this.#armedMs = ms;
    this.#armedWhat = what;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#expired = new MdevError("ETIMEDOUT", this.#message(what, this.#channel.peer, ms));
      this.#channel.destroy(this.#expired);
    }, ms);
    // A silent peer's timer alone must not keep a process alive.
    this.#timer.unref();
  }

  /** The reason the session ended, when the deadline passed first. */
  get expired(): MdevError | undefined {
    return this.#expired;
  }

  /** What was awaited arrived (or the session ended): disarms the deadline. */
  met(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
