import type {
  ChannelCapabilities,
  ReturnPathReader,
  ReturnPathWriter,
  SourceChannel,
  TargetChannel,
} from "./channel.js";
import { ReturnPathInbox, ReturnPathOutbox } from "./return-path-endpoints.js";
import { TransportError } from "./transport-error.js";

const CAPS: ChannelCapabilities = {
  kind: "memory",
  returnPath: true,
  authenticated: false,
  encrypted: false,
};

/** Copies frames into one buffer: a wire never shares memory with its sender. */
function copyOut(frames: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const f of frames) n += f.byteLength;
  const out = new Uint8Array(n);
  let at = 0;
  for (const f of frames) {
    out.set(f, at);
    at += f.byteLength;
  }
  return out;
}

/** The shared wire of an in-memory pair: a byte queue with a high-water mark. */
class Wire {
  readonly chunks: Uint8Array[] = [];
  queued = 0;
  ended = false;
  error: Error | undefined;
  #wakeReader: (() => void) | undefined;
  #wakeWriters: (() => void)[] = [];

  constructor(readonly highWaterMark: number) {}

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.queued += chunk.byteLength;
    this.#wakeReader?.();
  }

  take(): Uint8Array | undefined {
    const c = this.chunks.shift();
    if (c) {
      this.queued -= c.byteLength;
      if (this.queued <= this.highWaterMark) for (const w of this.#wakeWriters.splice(0)) w();
    }
    return c;
  }

  waitReadable(): Promise<void> {
    return new Promise((r) => {
      this.#wakeReader = r;
    });
  }

  waitWritable(): Promise<void> {
    return new Promise((r) => this.#wakeWriters.push(r));
  }

  wakeAll(): void {
    this.#wakeReader?.();
    for (const w of this.#wakeWriters.splice(0)) w();
  }
}

/**
 * An in-process pair for tests: `source.send` → `target.receive`, `target.returnPath` →
 * `source.returnPath`. Bytes are copied and the return path goes through the real codec,
 * so tests exercise what sockets would. `highWaterMark` bounds the bytes in flight.
 */
export function createMemoryChannelPair(options: { readonly highWaterMark?: number } = {}): {
  source: SourceChannel;
  target: TargetChannel;
} {
  const wire = new Wire(options.highWaterMark ?? 4 * 1024 * 1024);
  const inbox = new ReturnPathInbox("memory://target");
  let targetClosed = false;

  const source: SourceChannel = {
    role: "source",
    peer: "memory://target",
    capabilities: CAPS,
    returnPath: inbox as ReturnPathReader,
    async send(frames, signal) {
      if (signal?.aborted) {
        source.destroy();
        throw signal.reason;
      }
      if (wire.ended || wire.error || targetClosed)
        throw new TransportError("ECONNRESET", this.peer, "channel is closed");
      wire.push(copyOut(frames));
      // Like a socket: an abort while the reader lags destroys the channel and rejects.
      const onAbort = (): void => source.destroy();
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        while (wire.queued > wire.highWaterMark && !wire.error && !targetClosed)
          await wire.waitWritable();
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
      if (signal?.aborted) throw signal.reason;
      if (wire.error) throw wire.error;
    },
    async close() {
      wire.ended = true;
      wire.wakeAll();
    },
    destroy(reason) {
      wire.error = reason ?? new TransportError("ECONNRESET", "memory://source", "destroyed");
      wire.wakeAll();
      inbox.fail(wire.error);
    },
  };

  const returnPath: ReturnPathWriter = new ReturnPathOutbox(async (frames) => {
    if (targetClosed)
      throw new TransportError("ECONNRESET", "memory://source", "channel is closed");
    inbox.feed(copyOut(frames));
  });

  const target: TargetChannel = {
    role: "target",
    peer: "memory://source",
    capabilities: CAPS,
    returnPath,
    async *receive() {
      for (;;) {
        const c = wire.take();
        if (c) {
          yield c;
          continue;
        }
        if (wire.error) throw wire.error;
        if (wire.ended || targetClosed) return;
        await wire.waitReadable();
      }
    },
    hungUp: () => wire.ended || wire.error !== undefined || targetClosed,
    async close() {
      targetClosed = true;
      inbox.end();
      wire.wakeAll();
    },
    destroy(reason) {
      targetClosed = true;
      inbox.fail(reason ?? new TransportError("ECONNRESET", "memory://target", "destroyed"));
      wire.wakeAll();
    },
  };
  return { source, target };
}
