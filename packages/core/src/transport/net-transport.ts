import { lstat, rm } from "node:fs/promises";
import { createServer, connect as netConnect, type Socket } from "node:net";
import { errnoOf } from "../errors/errno.js";
import type { ChannelCapabilities, ChannelListener, SourceChannel } from "./channel.js";
import { formatChannelUrl } from "./channel-url.js";
import { SocketSourceChannel, SocketTargetChannel } from "./socket-channel.js";
import { SocketListener, startListening } from "./socket-listener.js";
import { TransportError } from "./transport-error.js";

/** Default listening host: loopback, so nothing is exposed unless asked for. */
export const DEFAULT_LISTEN_HOST = "127.0.0.1";

const caps = (kind: "tcp" | "unix"): ChannelCapabilities => ({
  kind,
  returnPath: true,
  authenticated: false,
  encrypted: false,
});

/** Options of a plain socket endpoint. */
export interface NetEndpointOptions {
  /** Socket send/receive tuning: disable Nagle on TCP (default true; frames are batched already). */
  readonly noDelay?: boolean;
}

function peerOf(socket: Socket, fallback: string): string {
  return socket.remoteAddress ? `tcp://${socket.remoteAddress}:${socket.remotePort}` : fallback;
}

function connectSocket(socket: Socket, url: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    socket.once("error", (err: NodeJS.ErrnoException) => {
      const code = errnoOf(err, "ECONNRESET");
      // Node says "connect ECONNREFUSED 127.0.0.1:1": the error's code and peer, which this
      // error carries already; its words are kept only for a code mdevkit has not.
      const why = code === err.code ? "cannot connect" : `cannot connect: ${err.message}`;
      reject(new TransportError(code, url, why, { cause: err }));
    });
    socket.once("connect", () => resolve(socket));
  });
}

/** Connects to a TCP target; the result is the source end. */
export async function connectTcp(
  host: string,
  port: number,
  options: NetEndpointOptions = {},
): Promise<SourceChannel> {
  const url = formatChannelUrl({ kind: "tcp", host, port });
  const socket = await connectSocket(
    netConnect({ host, port, noDelay: options.noDelay ?? true }),
    url,
  );
  return new SocketSourceChannel(socket, url, caps("tcp"));
}

/** Listens for TCP sources on `host` (default 127.0.0.1) and `port` (0: any free port). */
export async function listenTcp(
  port = 0,
  host = DEFAULT_LISTEN_HOST,
  options: NetEndpointOptions = {},
): Promise<ChannelListener> {
  const server = createServer({ noDelay: options.noDelay ?? true });
  await startListening(server, formatChannelUrl({ kind: "tcp", host, port }), { host, port });
  const addr = server.address();
  const bound = typeof addr === "object" && addr ? addr.port : port;
  const url = formatChannelUrl({ kind: "tcp", host, port: bound });
  return new SocketListener(
    server,
    url,
    "connection",
    (s) => new SocketTargetChannel(s, peerOf(s, url), caps("tcp")),
  );
}

/** Connects to a UNIX-socket target. */
export async function connectUnix(path: string): Promise<SourceChannel> {
  const url = formatChannelUrl({ kind: "unix", path });
  const socket = await connectSocket(netConnect({ path }), url);
  return new SocketSourceChannel(socket, url, caps("unix"));
}

/**
 * Listens on a UNIX socket at `path`. A stale socket there (nobody accepts on it) is
 * replaced; anything else — a regular file, a directory, a live listener — is refused,
 * never deleted.
 */
export async function listenUnix(path: string): Promise<ChannelListener> {
  const url = formatChannelUrl({ kind: "unix", path });
  await removeStaleSocket(path, url);
  const server = createServer();
  await startListening(server, url, { path });
  return new SocketListener(
    server,
    url,
    "connection",
    (s) => new SocketTargetChannel(s, url, caps("unix")),
  );
}

async function removeStaleSocket(path: string, url: string): Promise<void> {
  const stat = await lstat(path).catch(() => undefined);
  if (stat === undefined) return;
  if (!stat.isSocket()) {
    throw new TransportError("EEXIST", url, `${path} exists and is not a socket; not replacing it`);
  }
  const live = await new Promise<boolean>((resolve) => {
    const probe = netConnect({ path });
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (live) throw new TransportError("EADDRINUSE", url, `another process listens on ${path}`);
  await rm(path, { force: true });
}
