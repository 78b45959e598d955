// `mdevkit listen` serves every connection at once: an idle connection, an HTTP request or a
// stray client never blocks a real migration, a peer that sends no HANDSHAKE is dropped at
// its deadline, and `--once` counts only a migration the target accepted.
import { afterEach, describe, expect, it } from "vitest";
import {
  ACCEPTED_BYTES,
  cleanupListeners,
  handshakeBytes,
  migrateSmallVm,
  nthEvent,
  rawPeer,
  receivedAtLeast,
  startListener,
} from "./listen-helpers.js";

afterEach(cleanupListeners, 60_000);

describe("listen serves connections concurrently", { timeout: 180_000 }, () => {
  it("an idle connection, then a real migration: the migration arrives", async () => {
    // A deadline far beyond the test: the idle peer is still connected while the VM arrives.
    const target = await startListener(["--once", "--handshake-timeout", "600000"]);
    const idle = await rawPeer(target.port);
    await migrateSmallVm(target.url);
    expect(await target.child.exited).toBe(0);
    expect(target.child.events.some((e) => e.event === "result")).toBe(true);
    // The idle peer was simply closed with the listener; it never got an answer.
    await idle.closed;
    expect(idle.received().length).toBe(0);
    expect(target.child.events.some((e) => e.event === "dropped")).toBe(false);
  });

  it("an HTTP request (shorter than a stream header, waiting for a reply), then a real migration: the migration arrives", async () => {
    const target = await startListener(["--once", "--handshake-timeout", "600000"]);
    const http = await rawPeer(target.port);
    http.socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    await migrateSmallVm(target.url);
    expect(await target.child.exited).toBe(0);
    expect(target.child.events.some((e) => e.event === "result")).toBe(true);
    expect(target.child.events.some((e) => e.event === "dropped")).toBe(false);
  });

  it("--once: a stray connection (garbage, then closed) does not end it; the migration after it does", async () => {
    const target = await startListener(["--once"]);
    const stray = await rawPeer(target.port);
    stray.socket.end(Buffer.alloc(64, 0x5a));
    const dropped = await nthEvent(target.child, "dropped", 1);
    expect(dropped).toMatchObject({ peer: expect.stringMatching(/^tcp:\/\/127\.0\.0\.1:\d+$/) });
    expect(target.child.process.exitCode).toBeNull();
    await migrateSmallVm(target.url);
    expect(await target.child.exited).toBe(0);
    expect(target.child.events.filter((e) => e.event === "result")).toHaveLength(1);
  });

  it("drops a silent peer at the handshake deadline, with a logged line, and closes it", async () => {
    const target = await startListener(["--handshake-timeout", "500"]);
    const silent = await rawPeer(target.port);
    const dropped = await nthEvent(target.child, "dropped", 1);
    expect(dropped).toMatchObject({
      code: "ETIMEDOUT",
      message: expect.stringMatching(/no HANDSHAKE from tcp:\/\/127\.0\.0\.1:\d+ within 500 ms/),
    });
    await silent.closed;
    expect(target.child.process.exitCode).toBeNull();
  });

  it("a second VM while one is being received is refused EBUSY, not queued", async () => {
    const target = await startListener([]);
    const first = await rawPeer(target.port);
    first.socket.write(handshakeBytes(8));
    // The first VM is built and ACCEPTed (return-path header + ACCEPT), then its peer idles.
    await receivedAtLeast(first, ACCEPTED_BYTES);
    const second = await rawPeer(target.port);
    second.socket.write(handshakeBytes(8));
    const dropped = await nthEvent(target.child, "dropped", 1);
    expect(dropped).toMatchObject({
      code: "EBUSY",
      message: expect.stringMatching(/another migration is being received here/),
    });
    // The refused source was told (REJECT), and its connection closed.
    await second.closed;
    expect(second.received().toString("latin1")).toMatch(/another migration is being received/);
  });
});
