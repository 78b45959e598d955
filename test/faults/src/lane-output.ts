import type { Socket } from "node:net";

/** How a lane delivers: straight through, held back (a stall), or at a trickle. */
export type LaneMode = "pass" | "hold" | "trickle";

/** Queued bytes above which the proxy stops reading the sender (so its writes block too). */
const HIGH_WATER = 4 * 2 ** 20;
/** How often a trickling lane releases its next slice, ms. */
const TRICKLE_TICK_MS = 50;

/**
 * The sending half of one proxy lane. It queues what the proxy decided to forward and
 * writes it to `to` as the mode allows, with backpressure all the way back: while the
 * queue is long or `to` does not drain, `from` is paused, so a stalled or trickling link
 * fills the sender's socket buffers and blocks its writes, as a real slow peer would.
 */
export class LaneOutput {
  readonly #from: Socket;
  readonly #to: Socket;
  #mode: LaneMode = "pass";
  #queue: Uint8Array[] = [];
  #queued = 0;
  #bytesPerTick = 0;
  #timer: NodeJS.Timeout | undefined;
  #ended = false;

  constructor(from: Socket, to: Socket) {
    this.#from = from;
    this.#to = to;
    to.on("drain", () => this.#pump());
  }

  /** Queues `bytes` for the receiver. */
  send(bytes: Uint8Array): void {
    // A receiver that is gone takes nothing more (its peer sees the close instead).
    if (bytes.byteLength === 0 || this.#to.destroyed) return;
    this.#queue.push(bytes);
    this.#queued += bytes.byteLength;
    this.#pump();
  }

  /** Switches delivery: `trickle` releases `bytesPerSecond`. */
  setMode(mode: LaneMode, bytesPerSecond = 0): void {
    this.#mode = mode;
    this.#bytesPerTick = Math.max(1, Math.round((bytesPerSecond * TRICKLE_TICK_MS) / 1000));
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (mode === "trickle") this.#timer = setInterval(() => this.#trickle(), TRICKLE_TICK_MS);
    this.#pump();
  }

  /** The sender finished: end the receiver once everything queued went out. */
  end(): void {
    this.#ended = true;
    this.#pump();
  }

  /** Stops timers (the connection is gone). */
  dispose(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #pump(): void {
    if (this.#to.destroyed) return;
    if (this.#mode === "pass") {
      while (this.#queue.length > 0 && !this.#to.writableNeedDrain) {
        this.#write(this.#queue.shift() as Uint8Array);
      }
    }
    if (this.#queue.length === 0 && this.#ended && this.#mode !== "hold") {
      this.#to.end();
      return;
    }
    const full = this.#queued > HIGH_WATER || this.#to.writableNeedDrain;
    if (full && !this.#from.isPaused()) this.#from.pause();
    else if (!full && this.#from.isPaused()) this.#from.resume();
  }

  #trickle(): void {
    if (this.#to.destroyed || this.#to.writableNeedDrain) return;
    let budget = this.#bytesPerTick;
    while (budget > 0 && this.#queue.length > 0) {
      const head = this.#queue[0] as Uint8Array;
      if (head.byteLength <= budget) {
        this.#queue.shift();
        budget -= head.byteLength;
        this.#write(head);
      } else {
        this.#queue[0] = head.subarray(budget);
        this.#write(head.subarray(0, budget));
        budget = 0;
      }
    }
    this.#pump();
  }

  #write(bytes: Uint8Array): void {
    this.#queued -= bytes.byteLength;
    this.#to.write(bytes);
  }
}
