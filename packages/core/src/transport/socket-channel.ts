import { once } from "node:events";
import type { Socket } from "node:net";
import { nativePageRoutines } from "../memory/native-page-routines.js";
import type {
  ChannelCapabilities,
  ReturnPathReader,
  ReturnPathWriter,
  SourceChannel,
  TargetChannel,
} from "./channel.js";
import { ReturnPathInbox, ReturnPathOutbox } from "./return-path-endpoints.js";
import { type ReusedReads, reusedBufferReads } from "./reused-read-buffer.js";
import { TransportError } from "./transport-error.js";

/**
 * Writes frames as one corked batch (Node turns it into a single writev) and resolves once
 * the batch has been handed to the kernel: the kernel's buffer, not ours, absorbs a fast
 * source, and the caller may reuse the frames' memory (the channel contract) afterwards.
 *
 * A peer that stopped reading leaves the batch in our buffer for good, so the wait also
 * ends on `signal`: the socket is destroyed (the stream is cut mid-record anyway, and a
 * destroyed socket releases the views) and the promise rejects with the signal's reason.
 */
async function writeFrames(
  socket: Socket,
  peer: string,
  frames: readonly Uint8Array[],
  signal?: AbortSignal,
): Promise<void> {
  if (signal?.aborted) {
    socket.destroy();
    throw signal.reason;
  }
  if (socket.destroyed || socket.writableEnded)
    throw new TransportError("ECONNRESET", peer, "channel is closed");
  let flushed = false;
  let failed: Error | null | undefined;
  let settle: (() => void) | undefined;
  socket.cork();
  frames.forEach((f, i) => {
    // Writes complete in order: the last one's callback means the whole batch left our memory.
    if (i < frames.length - 1) socket.write(f);
    else
      socket.write(f, (err) => {
        flushed = true;
        failed = err;
        settle?.();
      });
  });
  socket.uncork();
  const writeError = (): TransportError =>
    new TransportError("ECONNRESET", peer, failed?.message ?? "connection closed while sending", {
      cause: failed,
    });
  if (flushed && failed) throw writeError();
  if (flushed || frames.length === 0) return;
  await new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      settle = undefined;
      socket.off("close", onClose);
      socket.off("error", onError);
      signal?.removeEventListener("abort", onAbort);
    };
    settle = (): void => {
      cleanup();
      // A write cut by destroy() may be called back without an error: it did not complete.
      if (failed || socket.destroyed) reject(writeError());
      else resolve();
    };
    const onClose = (): void => {
      cleanup();
      reject(new TransportError("ECONNRESET", peer, "connection closed while sending"));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new TransportError("ECONNRESET", peer, err.message, { cause: err }));
    };
    const onAbort = (): void => {
      cleanup();
      socket.destroy();
      reject(signal?.reason);
    };
    socket.on("close", onClose);
    socket.on("error", onError);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Ends the socket gracefully and waits until it is closed. A destroy meanwhile (the
 * failure path) settles it at once, through the 'close' event.
 */
async function closeSocket(socket: Socket): Promise<void> {
  if (socket.destroyed) return;
  const closed = once(socket, "close").catch(() => undefined);
  socket.end();
  // A peer that never reads would keep us waiting: give it a moment, then cut.
  const timer = setTimeout(() => socket.destroy(), 5000);
  await closed;
  clearTimeout(timer);
}

/** Source end over a connected stream socket (TCP, UNIX or TLS). */
export class SocketSourceChannel implements SourceChannel {
  readonly role = "source" as const;
  readonly peer: string;
  readonly capabilities: ChannelCapabilities;
  readonly returnPath: ReturnPathReader;
  readonly #socket: Socket;
  #error: TransportError | undefined;

  constructor(socket: Socket, peer: string, capabilities: ChannelCapabilities) {
    this.#socket = socket;
    this.peer = peer;
    this.capabilities = capabilities;
    const inbox = new ReturnPathInbox(peer);
    this.returnPath = inbox;
    socket.on("data", (chunk: Buffer) => inbox.feed(chunk));
    socket.on("end", () => inbox.end());
    socket.on("error", (err) => {
      this.#error = new TransportError("ECONNRESET", peer, err.message, { cause: err });
      inbox.fail(this.#error);
    });
    socket.on("close", () =>
      inbox.fail(new TransportError("ECONNRESET", peer, "connection closed")),
    );
  }

  send(frames: readonly Uint8Array[], signal?: AbortSignal): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    return writeFrames(this.#socket, this.peer, frames, signal);
  }

  close(): Promise<void> {
    return closeSocket(this.#socket);
  }

  destroy(reason?: Error): void {
    this.#socket.destroy(reason);
  }
}

/** Target end over an accepted stream socket. */
export class SocketTargetChannel implements TargetChannel {
  readonly role = "target" as const;
  readonly peer: string;
  readonly capabilities: ChannelCapabilities;
  readonly returnPath: ReturnPathWriter;
  readonly #socket: Socket;
  /** The socket's reads into reused buffers, where this Node allows it (set up at once). */
  readonly #reused: ReusedReads | undefined;
  #receiving = false;

  constructor(socket: Socket, peer: string, capabilities: ChannelCapabilities) {
    this.#socket = socket;
    this.peer = peer;
    this.capabilities = capabilities;
    this.returnPath = new ReturnPathOutbox((frames) => writeFrames(socket, peer, frames));
    // Until someone iterates, errors must not crash the process as unhandled 'error' events.
    socket.on("error", () => {});
    this.#reused = reusedBufferReads(socket, peer);
  }

  /** Whether reads go into reused buffers rather than a fresh Buffer each. */
  get reusesReadBuffer(): boolean {
    return this.#reused !== undefined;
  }

  async *receive(): AsyncIterable<Uint8Array> {
    if (this.#receiving)
      throw new TransportError("EINVAL", this.peer, "receive() may be iterated only once");
    this.#receiving = true;
    // Chunks of the reused buffer are valid until the next is asked for: what the decoder
    // yields is, by its contract, valid only that long too.
    if (this.#reused !== undefined) {
      yield* this.#reused;
      return;
    }
    try {
      // The stream's async iterator pulls: while we do not ask, the socket is paused and TCP
      // flow control pushes back on the source.
      // destroyOnReturn: false, so a target that stops iterating can still answer.
      for await (const chunk of this.#socket.iterator({ destroyOnReturn: false }))
        yield chunk as Uint8Array;
    } catch (err) {
      throw new TransportError("ECONNRESET", this.peer, (err as Error).message, { cause: err });
    }
  }

  /** Sets the socket's low-water mark from it (plain TCP with reused reads only). */
  expect(bytes: number): void {
    this.#reused?.expect(bytes);
  }

  /**
   * Torn down, or (through core's addon) the kernel saw the peer's FIN or reset. Without
   * the addon only the first: a paused socket learns of the peer's end by reading.
   */
  hungUp(): boolean {
    const socket = this.#socket;
    if (socket.destroyed) return true;
    const peerHungUp = nativePageRoutines?.peerHungUp;
    // Read from the live handle each time: a closed socket's number may be another's now.
    const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
    return peerHungUp !== undefined && typeof fd === "number" && fd >= 0 && peerHungUp(fd);
  }

  close(): Promise<void> {
    // The engine closes from inside its receive loop (after GO): that loop's reads stopped
    // after its last chunk, and the close waits for the source's FIN, which only a read sees.
    this.#reused?.abandon();
    return closeSocket(this.#socket);
  }

  destroy(reason?: Error): void {
    this.#socket.destroy(reason);
  }
}
