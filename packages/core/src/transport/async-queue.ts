import { TransportError } from "./transport-error.js";

/**
 * A small bounded queue bridging event callbacks to `await next()`. Bounded because its
 * producer is the peer: a flood of answers is a broken peer, not a reason to grow forever.
 */
export class AsyncQueue<T> {
  readonly #items: T[] = [];
  readonly #waiters: { resolve: (v: T | undefined) => void; reject: (e: Error) => void }[] = [];
  readonly #max: number;
  readonly #peer: string;
  #ended = false;
  #error: Error | undefined;

  constructor(max: number, peer: string) {
    this.#max = max;
    this.#peer = peer;
  }

  /** Adds an item (or hands it to a waiting reader). Overflow fails the queue. */
  push(item: T): void {
    if (this.#ended || this.#error) return;
    const w = this.#waiters.shift();
    if (w) {
      w.resolve(item);
      return;
    }
    if (this.#items.length >= this.#max) {
      this.fail(new TransportError("EIO", this.#peer, `more than ${this.#max} unread messages`));
      return;
    }
    this.#items.push(item);
  }

  /**
   * Adds an item if there is room (or a waiting reader) and says whether it did; unlike
   * {@link push}, a full queue refuses the item and stays usable — for producers whose
   * excess is dropped one by one (connections), not a broken peer.
   */
  offer(item: T): boolean {
    if (this.#ended || this.#error) return false;
    if (this.#waiters.length === 0 && this.#items.length >= this.#max) return false;
    this.push(item);
    return true;
  }

  /** No more items: readers get `undefined` after the queued ones. */
  end(): void {
    this.#ended = true;
    for (const w of this.#waiters.splice(0)) w.resolve(undefined);
  }

  /** Fails every pending and future read (after queued items are drained). */
  fail(err: Error): void {
    if (this.#error || this.#ended) return;
    this.#error = err;
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }

  /** The next item, `undefined` at the end. */
  next(): Promise<T | undefined> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift());
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }
}
