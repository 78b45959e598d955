// The target decides what it hosts: `listen --max-memory` refuses a larger VM before any
// allocation and tells the source; memory of refused or failed migrations goes back.
import { afterEach, describe, expect, it } from "vitest";
import {
  ACCEPTED_BYTES,
  cleanupListeners,
  handshakeBytes,
  nthEvent,
  rawPeer,
  receivedAtLeast,
  startListener,
  statusField,
  statusMiB,
} from "./listen-helpers.js";

afterEach(cleanupListeners, 60_000);

describe("listen --max-memory", { timeout: 180_000 }, () => {
  it("a 175-byte HANDSHAKE claiming 2048 MiB is refused (ENOMEM, REJECT sent) without allocating", async () => {
    const target = await startListener(["--max-memory", "64"]);
    const pid = target.child.process.pid as number;
    const hostile = await rawPeer(target.port);
    const bytes = handshakeBytes(2048);
    expect(bytes.length).toBe(175);
    hostile.socket.write(bytes);
    const dropped = await nthEvent(target.child, "dropped", 1);
    expect(dropped).toMatchObject({
      code: "ENOMEM",
      message: expect.stringMatching(/2048 MiB of RAM; this target's memory budget is 64 MiB/),
    });
    await hostile.closed;
    expect(hostile.received().toString("latin1")).toMatch(/memory budget is 64 MiB/);
    // Peak RSS: a listener that prefaulted the guest would be past 2 GiB.
    expect(statusMiB(pid, "VmHWM")).toBeLessThan(400);
    expect(target.child.process.exitCode).toBeNull();
  });

  it("--prealloc: a VM of another size is refused, without allocating it", async () => {
    const target = await startListener(["--prealloc", "32"]);
    const pid = target.child.process.pid as number;
    const peer = await rawPeer(target.port);
    peer.socket.write(handshakeBytes(2048));
    const dropped = await nthEvent(target.child, "dropped", 1);
    expect(dropped).toMatchObject({
      code: "EINVAL",
      message: expect.stringMatching(/2048 MiB of RAM; this target is prepared for 32 MiB/),
    });
    expect(statusMiB(pid, "VmHWM")).toBeLessThan(400);
  });

  it("--max-vcpus: a VM asking for 64 vCPUs is refused (EINVAL) before any vCPU thread starts", async () => {
    const target = await startListener(["--max-vcpus", "2"]);
    const pid = target.child.process.pid as number;
    const threadsIdle = statusField(pid, "Threads");
    const peer = await rawPeer(target.port);
    peer.socket.write(handshakeBytes(8, 64));
    const dropped = await nthEvent(target.child, "dropped", 1);
    expect(dropped).toMatchObject({
      code: "EINVAL",
      message: expect.stringMatching(/64 vCPUs; this target hosts at most 2/),
    });
    // One worker thread per vCPU would have been started for a built VM.
    expect(statusField(pid, "Threads")).toBeLessThan(threadsIdle + 8);
  });

  it("--prealloc more than --max-memory is refused at start", async () => {
    const target = startListener(["--prealloc", "64", "--max-memory", "32"]);
    await expect(target).rejects.toThrow(/exited/);
  });
});

describe("memory after failed migrations", { timeout: 180_000 }, () => {
  it("the listener's RSS returns near its idle level after accepted VMs whose sources vanished", async () => {
    const target = await startListener([]);
    const pid = target.child.process.pid as number;
    const idle = statusMiB(pid, "VmRSS");
    for (let i = 1; i <= 3; i++) {
      const peer = await rawPeer(target.port);
      peer.socket.write(handshakeBytes(256));
      // ACCEPT comes after the target built and prefaulted the 256 MiB guest.
      await receivedAtLeast(peer, ACCEPTED_BYTES);
      peer.socket.destroy();
      await nthEvent(target.child, "error", i);
    }
    // Freed memory leaves RSS after a collection the listener schedules itself; give it time.
    let rss = statusMiB(pid, "VmRSS");
    for (let t = 0; t < 900 && rss > idle + 96; t++) {
      await new Promise((r) => setTimeout(r, 100));
      rss = statusMiB(pid, "VmRSS");
    }
    expect(statusMiB(pid, "VmHWM")).toBeGreaterThan(idle + 200);
    expect(rss).toBeLessThan(idle + 96);
  });
});
