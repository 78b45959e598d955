import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { LowWaterMark } from "./low-water-mark.js";
import { TransportError } from "./transport-error.js";

/**
 * Bytes per chunk the target's consumer gets at most (in the ordinary case). Large chunks
 * mean fewer calls per gigabyte; the kernel's socket buffer on loopback holds megabytes
 * when the source is ahead.
 */
export const READ_BUFFER_SIZE = 2 ** 20;

/**
 * What a TLS handle hands over per read callback at most: one TLS record's plaintext
 * (16 KiB, RFC 8446 §5.1); a larger buffer only leaves room.
 */
const TLS_RECORD_BUFFER_SIZE = 64 * 1024;

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
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: unknown } })._handle;
  if (typeof handle?.useUserBuffer !== "function") return undefined;
  const symbols = Object.getOwnPropertySymbols(socket);
  const kBuffer = symbols.find((s) => s.description === "kBuffer");
  const kBufferCb = symbols.find((s) => s.description === "kBufferCb");
  if (kBuffer === undefined || kBufferCb === undefined) return undefined;
  return { handle: handle as UserBufferAccess["handle"], kBuffer, kBufferCb };
}

/** The chunks of a socket read into reused buffers, and a way to stop wanting them. */
export interface ReusedReads extends AsyncIterable<Uint8Array> {
  /**
   * The consumer cannot go on before `bytes` more arrive: on plain TCP the kernel is asked not
   * to wake the reader before then (see {@link LowWaterMark}). A hint; the kernel still wakes
   * the reader at the stream's end or when its receive window runs low.
   */
  expect(bytes: number): void;
  /**
   * Drops what arrives from now on, reading on so the peer's end is still seen: for a
   * close made while the consumer holds the iterator (it stopped reading after its last
   * chunk, so the peer's FIN, which a graceful close waits for, would never be read).
   * Leaving the iteration does the same.
   */
  abandon(): void;
}

/** How the bytes of each read become the consumer's chunks. */
interface ChunkPlan {
  /** The buffer the handle reads into. */
  readonly readBuffer: Uint8Array;
  /** Whether reading may go on while the consumer holds a chunk (it is not in `readBuffer`). */
  readonly readsWhileHeld: boolean;
  /** The handle read `nread` bytes into `readBuffer`; `false` stops reading until resumed. */
  read(nread: number): boolean;
  /** The next chunk, valid until `take` is called again; `undefined` when none waits. */
  take(): Uint8Array | undefined;
  /** Forgets what waits. */
  clear(): void;
  /** Wakes the consumer after a read (at once, or once the handle's burst of reads is over). */
  wake(notify: () => void): void;
}

/**
 * A plain stream socket (TCP, UNIX): each read lands in the one buffer and is the chunk,
 * and reading stops until the consumer asks for the next, so the view stays intact.
 */
function directPlan(size: number): ChunkPlan {
  const buffer = Buffer.allocUnsafe(size);
  let chunk: Uint8Array | undefined;
  return {
    readBuffer: buffer,
    readsWhileHeld: false,
    read(nread) {
      chunk = buffer.subarray(0, nread);
      return false;
    },
    take() {
      const c = chunk;
      chunk = undefined;
      return c;
    },
    clear() {
      chunk = undefined;
    },
    wake: (notify) => notify(),
  };
}

/**
 * A TLS socket: its handle decrypts record by record and calls back once per record, in a
 * loop that goes on through every record it holds even after being told to stop. So no
 * read may land in what the consumer holds: each record is copied into the other of two
 * alternating buffers, and the consumer gets all that gathered since it last asked. One
 * copy per byte costs far less than a fresh Buffer per 16 KiB record (page faults on new
 * memory and the collector's work) and an async step per record.
 */
function coalescingPlan(size: number): ChunkPlan {
  const record = Buffer.allocUnsafe(TLS_RECORD_BUFFER_SIZE);
  let filling = Buffer.allocUnsafe(size);
  let spare = Buffer.allocUnsafe(size);
  let filled = 0;
  let wakeScheduled = false;
  return {
    readBuffer: record,
    readsWhileHeld: true,
    read(nread) {
      // Records decrypted after reading stopped still arrive: room is made, nothing lost.
      if (filled + nread > filling.byteLength) {
        const grown = Buffer.allocUnsafe(Math.max(2 * filling.byteLength, filled + nread));
        grown.set(filling.subarray(0, filled));
        filling = grown;
      }
      filling.set(record.subarray(0, nread), filled);
      filled += nread;
      return filled + TLS_RECORD_BUFFER_SIZE <= size;
    },
    take() {
      if (filled === 0) return undefined;
      const c = filling.subarray(0, filled);
      [filling, spare] = [spare, filling];
      filled = 0;
      return c;
    },
    clear() {
      filled = 0;
    },
    // Waking the consumer per record would hand it every record alone: the wake waits
    // until this turn of the event loop has read what the socket held.
    wake(notify) {
      if (wakeScheduled) return;
      wakeScheduled = true;
      setImmediate(() => {
        wakeScheduled = false;
        notify();
      });
    },
  };
}

/**
 * Reads an accepted socket into reused buffers instead of a fresh Buffer per read. Fresh
 * memory is what a gigabyte stream cannot afford: every 4 KiB of it costs a page fault on
 * first touch (about 17 µs on our CI machines) plus the collector's work to free it, which
 * made reading the target's main CPU cost. Must be called before the socket delivered any
 * data (in the server's `connection` or `secureConnection` event).
 *
 * Each chunk is valid until the consumer asks for the next one; reading pauses while a
 * buffer's worth waits, so TCP flow control still pushes back on a fast source. Returns
 * `undefined` where this Node cannot (see {@link UserBufferAccess}); read the socket the
 * ordinary way then.
 */
export function reusedBufferReads(
  socket: Socket,
  peer: string,
  size = READ_BUFFER_SIZE,
): ReusedReads | undefined {
  const access = userBufferAccess(socket);
  if (access === undefined) return undefined;
  const plan = socket instanceof TLSSocket ? coalescingPlan(size) : directPlan(size);
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
  const lowWater = LowWaterMark.for(socket);
  const target = socket as unknown as Record<symbol, unknown>;
  target[access.kBuffer] = plan.readBuffer;
  // Returning false stops reading (readStop) until `resume()`.
  target[access.kBufferCb] = (nread: number): boolean => {
    // Nobody will ask for more: drop the bytes but keep reading, so the peer's close is
    // seen and the socket closes (as a socket read the ordinary way would).
    if (abandoned) return true;
    lowWater?.arrived(nread);
    const more = plan.read(nread);
    if (wake !== undefined) plan.wake(notify);
    return more;
  };
  access.handle.useUserBuffer(plan.readBuffer);
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
    // Whatever comes now is dropped: no reason to hold any of it back.
    lowWater?.expect(1);
    plan.clear();
    if (!socket.destroyed) socket.resume();
  };
  return {
    abandon,
    expect: (bytes) => lowWater?.expect(bytes),
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          const c = plan.take();
          if (c !== undefined) {
            // Reading may have paused on a full buffer: the one just taken frees room.
            if (plan.readsWhileHeld && !socket.destroyed) socket.resume();
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
