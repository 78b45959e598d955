import { createServer, type Socket } from "node:net";

/** A fake peer's TCP server on a loopback port. */
export interface LoopbackServer {
  /** Where to connect: `tcp://127.0.0.1:PORT`. */
  readonly url: string;
  /** Closes the server and every connection it took. */
  close(): Promise<void>;
}

/**
 * Serves `onConnection` on an ephemeral loopback port: each connection's errors are
 * swallowed (a fake target's peer may cut it any time) and it is destroyed on close().
 */
export async function serveOnLoopback(
  onConnection: (socket: Socket) => void,
): Promise<LoopbackServer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return {
    url: `tcp://127.0.0.1:${address.port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
