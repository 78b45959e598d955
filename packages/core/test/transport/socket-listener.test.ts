// The listener hands out connections as they come; a flood of connections nobody accepts
// yet costs the flood (the newest are closed), never the listener.
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type ChannelListener, listenTcp } from "../../src/index.js";

const listeners: ChannelListener[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(listeners.splice(0).map((l) => l.close()));
});

function open(port: number): { socket: Socket; closed: Promise<void> } {
  const socket = connect({ port, host: "127.0.0.1" });
  sockets.push(socket);
  socket.on("error", () => {});
  return { socket, closed: new Promise((resolve) => socket.once("close", () => resolve())) };
}

describe("SocketListener", () => {
  it("closes connections beyond the pending limit and keeps accepting", async () => {
    const listener = await listenTcp(0);
    listeners.push(listener);
    const port = Number(new URL(listener.url).port);
    const flood = Array.from({ length: 20 }, () => open(port));
    // The listener queues 16 and closes the other 4 at once (wait for all four, so no flood
    // connection is still in flight when the late one comes).
    let closedCount = 0;
    for (const f of flood) void f.closed.then(() => closedCount++);
    while (closedCount < 4) await new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 16; i++) await listener.accept();
    const late = open(port);
    const channel = await listener.accept();
    late.socket.write("x");
    const iterator = channel.receive()[Symbol.asyncIterator]();
    expect(Buffer.from((await iterator.next()).value as Uint8Array).toString()).toBe("x");
    channel.destroy();
  });
});
