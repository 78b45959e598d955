// A target that fails while its source is still sending says FAILED and then lets the source
// go gracefully. It used to destroy the connection right after FAILED: the source's next
// bytes then met a closed socket, the kernel answered with a reset, and a source busy
// writing saw its write fail (ECONNRESET) before it read why — under load, `migrate`
// reported "write ECONNRESET" instead of the target's reason.
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  type ChannelListener,
  createHost,
  listenTcp,
  MigrationTarget,
  StreamEncoder,
} from "../../src/index.js";

const listeners: ChannelListener[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(listeners.splice(0).map((l) => l.close()));
});

describe("a target that fails while its source still sends", () => {
  it("delivers FAILED and ends the connection without resetting the source's writes", async () => {
    const listener = await listenTcp(0);
    listeners.push(listener);
    // Half-open, as a source still writing until it reads FAILED.
    const socket = connect({
      port: Number(new URL(listener.url).port),
      host: "127.0.0.1",
      allowHalfOpen: true,
    });
    sockets.push(socket);
    let received = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
    });
    let error: Error | undefined;
    socket.on("error", (err) => {
      error = err;
    });
    const ended = new Promise<void>((resolve) => socket.once("end", resolve));
    const channel = await listener.accept();
    const failed = new MigrationTarget(createHost({ name: "dst", plugins: [] }), channel).receive();
    failed.catch(() => {});

    const encoder = new StreamEncoder();
    const config = new TextEncoder().encode(JSON.stringify({ name: "vm", memoryMiB: 4 }));
    socket.write(Buffer.concat(encoder.start({ config, devices: [] })));
    // Pages past the 4 MiB guest fail the VM.
    socket.write(Buffer.concat(encoder.ramRange(10_000, new Uint8Array(4096).fill(1))));
    await expect(failed).rejects.toMatchObject({ message: expect.stringMatching(/page-range/) });
    await ended;
    // The source goes on writing a while, as one that has not read FAILED yet does.
    const filler = Buffer.concat(encoder.ramRange(0, new Uint8Array(64 * 1024).fill(1)));
    for (let i = 0; i < 20 && error === undefined; i++) {
      socket.write(filler);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(error).toBeUndefined();
    expect(received.toString("latin1")).toMatch(/outside guest RAM/);
  });
});
