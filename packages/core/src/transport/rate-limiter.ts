import { setTimeout as sleep } from "node:timers/promises";
import { MdevError } from "../errors/mdev-error.js";
import type { SourceChannel } from "./channel.js";
import { sendsWrapped } from "./sends-wrapped.js";
import { TransportError } from "./transport-error.js";

/**
 * A token bucket over bytes: `rate` bytes/s refill, at most `burst` stored. A take larger
 * than what is stored goes into debt and waits it off, so large records are allowed but the
 * long-run rate holds — this emulates a link of a given speed (e.g. 10 Gbit/s).
 */
export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  #tokens: number;
  #last: number;
  #chain: Promise<void> = Promise.resolve();
  readonly #now: () => number;

  /**
   * @param bytesPerSecond refill rate.
   * @param burst bucket size (default 1/100 s of traffic, at least 64 KiB).
   * @param now clock in milliseconds (tests inject one).
   */
  constructor(bytesPerSecond: number, burst?: number, now: () => number = () => performance.now()) {
    if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond))
      throw new MdevError("EINVAL", `invalid rate ${bytesPerSecond}`);
    this.rate = bytesPerSecond;
    this.burst = burst ?? Math.max(64 * 1024, bytesPerSecond / 100);
    this.#tokens = this.burst;
    this.#now = now;
    this.#last = now();
  }

  /** Bits per second → a bucket (link speeds are quoted in bits). */
  static fromBitsPerSecond(bitsPerSecond: number, burst?: number): TokenBucket {
    return new TokenBucket(bitsPerSecond / 8, burst);
  }

  /**
   * Waits until `bytes` may pass. Takes are served in call order. An abort of `signal`
   * ends the wait at once, rejecting with its reason.
   */
  take(bytes: number, signal?: AbortSignal): Promise<void> {
    const turn = this.#chain.then(() => this.#take(bytes, signal));
    this.#chain = turn.catch(() => undefined);
    return turn;
  }

  async #take(bytes: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    const now = this.#now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.rate);
    this.#last = now;
    this.#tokens -= bytes;
    if (this.#tokens >= 0) return;
    try {
      await sleep((-this.#tokens / this.rate) * 1000, undefined, signal ? { signal } : {});
    } catch (err) {
      // timers/promises rejects with its own AbortError; the caller wants the reason.
      throw signal?.aborted ? signal.reason : err;
    }
  }
}

/**
 * Wraps a source channel so its sends pass through `bucket`: the engine sees the bandwidth
 * of the emulated link, and its convergence decisions are tested against it.
 */
export function rateLimited(inner: SourceChannel, bucket: TokenBucket): SourceChannel {
  // destroy() must also end a send that waits for tokens, not only one the link holds.
  const destroyed = new AbortController();
  return sendsWrapped(
    inner,
    async (frames, signal) => {
      let n = 0;
      for (const f of frames) n += f.byteLength;
      const either = signal ? AbortSignal.any([signal, destroyed.signal]) : destroyed.signal;
      try {
        await bucket.take(n, either);
      } catch (err) {
        if (signal?.aborted) inner.destroy();
        throw err;
      }
      await inner.send(frames, signal);
    },
    (reason) => {
      destroyed.abort(
        reason ?? new TransportError("ECONNRESET", inner.peer, "channel destroyed while sending"),
      );
      inner.destroy(reason);
    },
  );
}
