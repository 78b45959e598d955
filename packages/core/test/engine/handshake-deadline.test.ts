// A peer has a bounded time to deliver its HANDSHAKE: a silent connection, half a header or
// an HTTP request cannot hold a target. A peer that handshook in time is never cut by it.
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  type ChannelListener,
  createHost,
  createMemoryChannelPair,
  listenTcp,
  MigrationTarget,
  StreamEncoder,
  TargetCapacity,
} from "../../src/index.js";
import { nativePageRoutines } from "../../src/memory/native-page-routines.js";

const listeners: ChannelListener[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(listeners.splice(0).map((l) => l.close()));
});

/** A TCP target with a short handshake deadline, and a raw client socket to it. */
async function rawPeer(handshakeTimeoutMs: number) {
  const listener = await listenTcp(0);
  listeners.push(listener);
  const port = Number(new URL(listener.url).port);
  const socket = connect({ port, host: "127.0.0.1" });
  sockets.push(socket);
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  const channel = await listener.accept();
  const received = new MigrationTarget(createHost({ name: "dst", plugins: [] }), channel, {
    handshakeTimeoutMs,
  }).receive();
  received.catch(() => {});
  return { socket, closed, received };
}

describe("handshake deadline", () => {
  it.each([
    ["a silent peer", Buffer.alloc(0)],
    [
      "half a stream header",
      Buffer.from(
        new StreamEncoder().start({ config: new Uint8Array(2), devices: [] })[0] as Uint8Array,
      ).subarray(0, 8),
    ],
    ["an HTTP request", Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
  ])("drops %s with ETIMEDOUT and closes its connection", async (_what, bytes) => {
    const { socket, closed, received } = await rawPeer(300);
    if (bytes.length > 0) socket.write(bytes);
    const err = await received.catch((e: unknown) => e);
    // An HTTP request may be refused as a bad header before the deadline: either way it ends.
    expect(err).toMatchObject({ code: expect.stringMatching(/^(ETIMEDOUT|EBADMSG|EPROTO)$/) });
    if (bytes.length === 0 || bytes.length === 8) {
      expect(err).toMatchObject({
        code: "ETIMEDOUT",
        message: expect.stringMatching(/no HANDSHAKE from tcp:\/\/127\.0\.0\.1:\d+ within 300 ms/),
      });
    }
    await closed;
  });

  it("does not cut a peer whose HANDSHAKE arrived in time, however long the migration then takes", async () => {
    const { source, target } = createMemoryChannelPair();
    const migration = new MigrationTarget(createHost({ name: "dst", plugins: [] }), target, {
      handshakeTimeoutMs: 2000,
    });
    const received = migration.receive();
    received.catch(() => {});
    const config = new TextEncoder().encode(JSON.stringify({ name: "vm", memoryMiB: 4 }));
    await source.send(new StreamEncoder().start({ config, devices: [] }));
    expect(await source.returnPath?.next()).toMatchObject({ type: "ACCEPT" });
    // Well past the deadline: the target still waits for the stream.
    await new Promise((r) => setTimeout(r, 3000));
    expect(migration.state).toBe("receiving");
    source.destroy();
    await expect(received).rejects.toMatchObject({ code: expect.not.stringMatching("ETIMEDOUT") });
  });

  it("drops a peer that handshook and then went silent, and gives back the RAM reserved for its VM", async () => {
    const { source, target } = createMemoryChannelPair();
    const capacity = new TargetCapacity({ maxMemoryMiB: 64 });
    const received = new MigrationTarget(createHost({ name: "dst", plugins: [] }), target, {
      capacity,
      receiveIdleTimeoutMs: 300,
    }).receive();
    received.catch(() => {});
    const config = new TextEncoder().encode(JSON.stringify({ name: "vm", memoryMiB: 4 }));
    await source.send(new StreamEncoder().start({ config, devices: [] }));
    expect(await source.returnPath?.next()).toMatchObject({ type: "ACCEPT" });
    expect(capacity.loading).toBe(true);
    await expect(received).rejects.toMatchObject({
      code: "ETIMEDOUT",
      message: expect.stringMatching(
        /less than 1 MiB more of the VM's state from .* within 300 ms/,
      ),
    });
    expect(capacity.loading).toBe(false);
    // Given back at once through core's addon; without it the share stays counted until the
    // runtime collects the RAM (target-capacity/resident.test.ts).
    if (nativePageRoutines?.releasePages !== undefined) expect(capacity.hostedMiB).toBe(0);
  });

  it("refuses a deadline that is not a positive whole number of ms", () => {
    const { target } = createMemoryChannelPair();
    expect(
      () =>
        new MigrationTarget(createHost({ name: "dst", plugins: [] }), target, {
          handshakeTimeoutMs: 0,
        }),
    ).toThrow(/EINVAL/);
    expect(
      () =>
        new MigrationTarget(createHost({ name: "dst", plugins: [] }), target, {
          receiveIdleTimeoutMs: 1.5,
        }),
    ).toThrow(/receive idle timeout/);
  });
});
