import type { Server, Socket } from "node:net";
import { errnoOf } from "../errors/errno.js";
import { AsyncQueue } from "./async-queue.js";
import type { ChannelListener, TargetChannel } from "./channel.js";
import { TransportError } from "./transport-error.js";

/** Most connections waiting for `accept()`; more are refused rather than queued. */
const MAX_PENDING = 16;

/**
 * A listener over a net/tls server. `connectionEvent` is `"connection"` for plain sockets
 * and `"secureConnection"` for TLS, which fires only after the peer authenticated — so an
 * unauthenticated peer never reaches `accept()`, let alone sends VM data.
 *
 * `accept()` hands out connections as they come; a caller that serves them concurrently
 * (each with a handshake deadline) is never blocked by one that sends nothing. When more
 * than {@link MAX_PENDING} wait unaccepted, the newest is closed at once: a flood of
 * connections costs the flood, never the listener.
 */
export class SocketListener implements ChannelListener {
  readonly url: string;
  readonly #server: Server;
  readonly #queue: AsyncQueue<TargetChannel>;

  constructor(
    server: Server,
    url: string,
    connectionEvent: string,
    wrap: (socket: Socket) => TargetChannel,
  ) {
    this.#server = server;
    this.url = url;
    this.#queue = new AsyncQueue(MAX_PENDING, url);
    server.on(connectionEvent, (socket: Socket) => {
      if (!this.#queue.offer(wrap(socket))) socket.destroy();
    });
    server.on("close", () =>
      this.#queue.fail(new TransportError("ECONNRESET", url, "listener closed")),
    );
  }

  accept(): Promise<TargetChannel> {
    return this.#queue.next().then((c) => {
      if (!c) throw new TransportError("ECONNRESET", this.url, "listener closed");
      return c;
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#queue.fail(new TransportError("ECONNRESET", this.url, "listener closed"));
      this.#server.close(() => resolve());
    });
  }
}

/** Starts `server` listening and resolves with it, or rejects with a TransportError. */
export function startListening(
  server: Server,
  url: string,
  args: { port: number; host: string } | { path: string },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(
        new TransportError(errnoOf(err, "EIO"), url, `cannot listen: ${err.message}`, {
          cause: err,
        }),
      );
    server.once("error", onError);
    server.listen(args, () => {
      server.off("error", onError);
      resolve();
    });
  });
}
