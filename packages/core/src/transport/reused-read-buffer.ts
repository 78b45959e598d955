import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { TransportError } from "./transport-error.js";

/**
 * Bytes per socket read on the target. Large reads mean fewer calls per gigabyte; the
 * kernel's socket buffer on loopback holds megabytes when the source is ahead.
 */
export const READ_BUFFER_SIZE = 2 ** 20;

/**
 * Node's private switch for reading a stream socket into one caller-owned buffer: the
 * machinery behind `net.connect({ onread })`, which Node 20 offers only to sockets it
 * connects, never to the ones a server accepts. Found by feature test; absent, the
 * caller reads the ordinary way.
 */
interface UserBufferAccess {
  readonly handle: { useUserBuffer(buffer: Uint8Array): void };
  readonly kBuffer: symbol;
  readonly kBufferCb: symbol;
}

function userBufferAccess(socket: Socket): UserBufferAccess | undefined {
  // A TLS socket's handle decrypts into buffers of its own: the switch does not apply.
  if (socket instanceof TLSSocket) return undefined;
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: unknown } })._handle;
  if (typeof handle?.useUserBuffer !== "function") return undefined;
  const symbols = Object.getOwnPropertySymbols(socket);
  const kBuffer = symbols.find((s) => s.description === "kBuffer");
  const kBufferCb = symbols.find((s) => s.description === "kBufferCb");
  if (kBuffer === undefined || kBufferCb === undefined) return undefined;
  return { handle: handle as UserBufferAccess["handle"], kBuffer, kBufferCb };
}

/** The chunks of a socket read into one reused buffer, and a way to stop wanting them. */
export interface ReusedReads extends AsyncIterable<Uint8Array> {
  /**
   * Drops what arrives from now on, reading on so the peer's end is still seen: for a
   * close made while the consumer holds the iterator (it stopped reading after its last
   * chunk, so the peer's FIN, which a graceful close waits for, would never be read).
   * Leaving the iteration does the same.
   */
  abandon(): void;
}

/**
 * Reads an accepted socket into one buffer reused for every read, instead of a fresh
 * Buffer per read. Fresh memory is what a gigabyte stream cannot afford: every 4 KiB of it
 * costs a page fault on first touch (about 17 µs on our CI machines) plus the collector's
 * work to free it, which made reading the target's main CPU cost. Must be called before
 * the socket delivered any data (in the server's `connection` event).
 *
 * Each chunk is a view of the shared buffer, valid until the consumer asks for the next
 * one: the socket stops reading after every read and starts again only then, so TCP flow
 * control still pushes back on a fast source. Returns `undefined` where this Node cannot
 * (see {@link UserBufferAccess}); read the socket the ordinary way then.
 */
export function reusedBufferReads(
  socket: Socket,
  peer: string,
  size = READ_BUFFER_SIZE,
): ReusedReads | undefined {
  const access = userBufferAccess(socket);
  if (access === undefined) return undefined;
  const buffer = Buffer.allocUnsafe(size);
  let chunk: Uint8Array | undefined;
  /** Set once the consumer stopped wanting chunks: reads then go on only to see the end. */
  let abandoned = false;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const target = socket as unknown as Record<symbol, unknown>;
  target[access.kBuffer] = buffer;
  // Returning false stops reading (readStop) until `resume()`: the view stays intact.
  target[access.kBufferCb] = (nread: number): boolean => {
    // Nobody will ask for more: drop the bytes but keep reading, so the peer's close is
    // seen and the socket closes (as a socket read the ordinary way would).
    if (abandoned) return true;
    chunk = buffer.subarray(0, nread);
    notify();
    return false;
  };
  access.handle.useUserBuffer(buffer);
  socket.on("end", () => {
    ended = true;
    notify();
  });
  socket.on("error", (err: Error) => {
    failure ??= err;
    notify();
  });
  socket.on("close", () => {
    if (!ended) failure ??= new Error("connection closed");
    notify();
  });
  const abandon = (): void => {
    abandoned = true;
    chunk = undefined;
    if (!socket.destroyed) socket.resume();
  };
  return {
    abandon,
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          if (chunk !== undefined) {
            const c = chunk;
            chunk = undefined;
            yield c;
            continue;
          }
          if (failure !== undefined)
            throw new TransportError("ECONNRESET", peer, failure.message, { cause: failure });
          if (ended) return;
          const arrived = new Promise<void>((resolve) => {
            wake = resolve;
          });
          socket.resume();
          await arrived;
        }
      } finally {
        abandon();
      }
    },
  };
}
