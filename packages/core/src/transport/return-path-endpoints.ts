import { StreamError } from "../errors/stream-error.js";
import type { ReturnMessage, ReturnRecord } from "../stream/records.js";
import { type ForwardHeader, ReturnPathDecoder, ReturnPathEncoder } from "../stream/return-path.js";
import { AsyncQueue } from "./async-queue.js";
import type { ReturnPathReader, ReturnPathWriter } from "./channel.js";
import { TransportError } from "./transport-error.js";

/** Maximum answers queued unread on the source; a real target sends fewer than ten. */
const MAX_QUEUED = 1024;

/**
 * Source-side return path: decodes the bytes the target sends back and queues the answers,
 * checked against what the source said it sent (its header, END). Any violation fails the
 * reader with the decoder's StreamError.
 */
export class ReturnPathInbox implements ReturnPathReader {
  readonly #decoder = new ReturnPathDecoder();
  readonly #queue: AsyncQueue<ReturnRecord>;

  constructor(peer: string) {
    this.#queue = new AsyncQueue(MAX_QUEUED, peer);
  }

  /** Feeds bytes from the transport. */
  feed(chunk: Uint8Array): void {
    try {
      for (const r of this.#decoder.push(chunk)) this.#queue.push(r);
    } catch (err) {
      this.#queue.fail(
        err instanceof StreamError
          ? err
          : new TransportError("EIO", "return path", String(err), { cause: err }),
      );
    }
  }

  /** The transport ended: a cut answer is an error, otherwise readers see the end. */
  end(): void {
    try {
      this.#decoder.finish();
      this.#queue.end();
    } catch (err) {
      // No header at all just means the target never answered: a clean end.
      if (
        err instanceof StreamError &&
        err.recordType === "HEADER" &&
        err.rule === "truncated" &&
        !this.#decoder.header
      ) {
        this.#queue.end();
      } else {
        this.#queue.fail(err as Error);
      }
    }
  }

  forwardStarted(forward: ForwardHeader): void {
    try {
      this.#decoder.forwardStarted(forward);
    } catch (err) {
      this.#queue.fail(err as Error);
    }
  }

  forwardIteration(iteration: number): void {
    this.#decoder.forwardIteration(iteration);
  }

  forwardEnded(): void {
    this.#decoder.forwardEnded();
  }

  /** Fails pending reads (transport error). */
  fail(err: Error): void {
    this.#queue.fail(err);
  }

  next(): Promise<ReturnRecord | undefined> {
    return this.#queue.next();
  }

  get version(): number | undefined {
    return this.#decoder.header?.version;
  }
}

/** Target-side return path: encodes answers and hands the bytes to `write`. */
export class ReturnPathOutbox implements ReturnPathWriter {
  readonly #encoder = new ReturnPathEncoder();
  readonly #write: (bytes: Uint8Array[]) => Promise<void>;
  #started = false;

  constructor(write: (bytes: Uint8Array[]) => Promise<void>) {
    this.#write = write;
  }

  async start(configDigest: Uint8Array, version?: number): Promise<void> {
    if (this.#started) throw new TransportError("EINVAL", "return path", "already started");
    const header = this.#encoder.start(configDigest, version);
    this.#started = true;
    await this.#write([header]);
  }

  async send(msg: ReturnMessage): Promise<void> {
    if (!this.#started)
      throw new TransportError("EINVAL", "return path", "send before start(configDigest)");
    await this.#write([this.#encoder.message(msg)]);
  }
}
